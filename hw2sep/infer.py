"""The TA's command: separate the MUSDB18 test set, print its SDR, write listening samples.

    pip install -r requirements.txt
    python hw2sep/infer.py --musdb-root PATH/TO/MUSDB18        # .stem.mp4 (needs ffmpeg) or HQ wav

Uses the checkpoint in models/ (``--checkpoint`` to choose another). Prints per-track and median-of-
medians SDR (museval, 1 s windows) for vocals and accompaniment, with the mixture phase and with
Griffin-Lim phase, and writes excerpts of a few tracks to samples/ with an index. Without
``--musdb-root`` it runs the same path on the embedded toy test set (generated on first use).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import hw2sep from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import time  # noqa: E402

from hw2sep.models.checkpoint import read_meta  # noqa: E402
from hw2sep.errors import Hw2sepError, run_cli  # noqa: E402
from hw2sep.evaluation.evaluate import add_common_arguments, evaluate, format_table  # noqa: E402
from hw2sep.evaluation.identity import checkpoint_labels  # noqa: E402
from hw2sep.report.results import read_per_track  # noqa: E402
from hw2sep.dsp.methods import METHODS, TOKENS  # noqa: E402
from hw2sep.separation.separator import methods_for  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = REPO / "models" / "umx_vocals.pt"
EXPLAIN = """SDR   median over the test tracks of each track's median SDR over 1 s windows (the assignment's number)
mean  mean over the test tracks of the same per-track medians (pulled by hard tracks)
global  median over tracks of one SDR per whole track (BSRNN/DTTNet-style papers report variants of it)
LSD   log-spectral distance in dB (median over tracks; lower is better): ignores phase, unlike SDR"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--musdb-root", default=None, help="MUSDB18 or MUSDB18-HQ root (default: embedded toy set)")
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="model .pt (json beside it)")
    parser.add_argument("--phase", default="both",
                        help=f"comma-separated methods ({', '.join(METHODS)}) or tokens: "
                             + "; ".join(f"{k} = {v}" for k, v in TOKENS.items()))
    parser.add_argument("--out", default=str(REPO / "results" / "infer"), help="results folder")
    parser.add_argument("--samples", default=str(REPO / "samples"), help="listening samples folder")
    parser.add_argument("--sample-tracks", type=int, default=3, help="tracks to write samples for")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    started = time.time()

    meta = read_meta(args.checkpoint)
    root = args.musdb_root
    if root is None:
        from hw2sep.data.toy import ensure_demo_toy_musdb
        root = ensure_demo_toy_musdb()
        print(f"no --musdb-root given: using the embedded toy test set at {root} (not MUSDB18)")
    print(f"checkpoint {args.checkpoint}: {meta['model']}, {meta.get('parameters') or 0:,} parameters, "
          f"epoch {meta.get('epoch')}, trained on {meta.get('dataset', meta.get('train', {}).get('npy_root'))}")
    if meta.get("demo") and args.musdb_root is not None:
        print("note: this is the toy demo checkpoint, not a MUSDB18 model; see README.txt to ship yours")

    try:
        methods = methods_for(args.checkpoint, [m for m in args.phase.split(",") if m])
    except Hw2sepError as err:
        raise Hw2sepError(f"--phase {args.phase}: {err}") from None
    rows = evaluate([args.checkpoint], root, args.out, subset="test", methods=methods, n_tracks=args.tracks,
                    metric=args.metric, device=args.device, samples_dir=args.samples,
                    n_sample_tracks=args.sample_tracks, workers=args.workers, memory_budget=args.memory_budget,
                    vocoders=args.vocoder, gl_iterations=args.gl_iterations)
    label = checkpoint_labels([args.checkpoint])[0]
    for method in methods:
        print(f"\nper-track SDR (dB), {method} phase: median over 1 s windows")
        per_track = read_per_track(args.out, label, method)
        for track in dict.fromkeys(r["track"] for r in per_track):
            sdr = {r["target"]: _db(r["SDR"]) for r in per_track if r["track"] == track}
            print(f"  {track[:48]:<48} vocals {sdr['vocals']}  accompaniment {sdr['accompaniment']}")
    print(f"\nmedian of medians over the test tracks (SDR column), metric {args.metric}:")
    print(format_table([r for r in rows if r["checkpoint"] == label and r["method"] in methods]))
    print(EXPLAIN)
    if "griffinlim" in methods and len(methods) > 1:
        base = methods[0] if methods[0] != "griffinlim" else methods[1]
        for target in ("vocals", "accompaniment"):
            sdr = {r["method"]: r["SDR"] for r in rows if r["checkpoint"] == label and r["target"] == target}
            if sdr.get("griffinlim") is not None and sdr.get(base) is not None:
                print(f"Griffin-Lim minus {base}, {target}: {sdr['griffinlim'] - sdr[base]:+.2f} dB")
    print(f"\nlistening samples: {Path(args.samples) / 'index.md'}; results: {args.out}; "
          f"total {time.time() - started:.1f} s")


def _db(value: float | None) -> str:
    """An SDR cell for printing; None is a track whose windows were all silent."""
    return "    nan" if value is None else f"{value:7.2f}"


if __name__ == "__main__":
    sys.exit(run_cli(main))
