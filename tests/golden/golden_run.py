"""Golden outputs of the whole pipeline on the generated toy set, for refactors that must change no number.

    python tests/golden/golden_run.py            # rewrite tests/golden/golden.json (an intended change only)

``run_pipeline`` trains tiny UMX (magnitude), BSRNN (complex) and LaSAFT (conditioned) separators and a tiny
vocoder for two epochs at a fixed seed, runs the TA's ``infer.py`` with every reconstruction method, and
hashes the separated waveforms. tests/test_golden.py compares a fresh run with golden.json bit for bit.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden.json")
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
TIMING = {"seconds", "excerpts_per_s", "data_wait_pct", "s_per_step"}  # log.csv columns that are wall time
SEPARATORS = {  # run name -> (model, options of a tiny instance, infer --phase)
    "umx": ("umx", {"hidden_size": 16, "nb_layers": 1},
            "mixture,wiener,griffinlim,griffinlim-mixinit,griffinlim-librosa,mel,vocoder"),
    "bsrnn": ("bsrnn", {"hidden_size": 8, "repeats": 1, "mask_factor": 2, "mask_layers": 1},
              "direct,mixture,griffinlim"),
    "lasaft": ("lasaft", {"n_fft": 512, "hop": 128, "n_blocks": 3, "internal_channels": 8, "n_internal_layers": 1,
                          "num_tdfs": 2, "dk": 4, "embedding_dim": 4, "control_n_layer": 2},
               "direct,residual,griffinlim"),
}


def _log(path: Path) -> list[dict]:
    """log.csv without its wall-time columns."""
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()[:16]


def run_pipeline(work: Path) -> dict:
    """Everything golden.json holds, computed afresh under ``work``."""
    from hw2sep.models.checkpoint import load_model
    from hw2sep.data.musdb import list_tracks
    from hw2sep.data.npy_cache import convert_to_npy
    from hw2sep.separation.separator import Separator
    from hw2sep.data.toy import make_toy_musdb
    from hw2sep.training.train import TrainConfig, fit
    from hw2sep.training.vocoder import VocoderTrainConfig, fit_vocoder
    sys.path.insert(0, str(REPO / "hw2sep"))
    import infer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = make_toy_musdb(work / "musdb", n_train=3, n_test=2, seconds=4.0, seed=5)
        npy = work / "npy"
        convert_to_npy(root, npy, progress=False)
        golden: dict = {"logs": {}, "infer": {}, "waveforms": {}}
        for run, (model, options, _) in SEPARATORS.items():
            config = TrainConfig(npy_root=str(npy), out=str(work / "runs" / run), model=model, model_options=options,
                                 epochs=2, batch_size=2, seq_dur=1.0, samples_per_track=2, nb_workers=0,
                                 checkpoint_epochs=(1, 2), device="cpu", seed=7)
            fit(config, progress=False)
            golden["logs"][run] = _log(work / "runs" / run / "log.csv")
        vocoder = VocoderTrainConfig(npy_root=str(npy), out=str(work / "runs" / "vocoder"), steps=4, batch_size=2,
                                     seq_dur=0.25, samples_per_track=2, checkpoint_every=2, valid_seconds=0.5,
                                     seed=3, device="cpu", stft_from=str(work / "runs" / "umx" / "best.pt"),
                                     vocoder=dict(n_mels=32, dim=32, intermediate_dim=64, nb_layers=2))
        fit_vocoder(vocoder, progress=False)
        golden["logs"]["vocoder"] = _log(work / "runs" / "vocoder" / "log.csv")
        for run, (_, _, phase) in SEPARATORS.items():
            checkpoint = work / "runs" / run / "best.pt"
            out = work / "infer" / run
            argv = ["--musdb-root", str(root), "--checkpoint", str(checkpoint), "--phase", phase, "--metric", "fast",
                    "--out", str(out), "--samples", str(work / "samples" / run), "--device", "cpu", "--workers", "0",
                    "--sample-tracks", "1"]
            if "vocoder" in phase:
                argv += ["--vocoder", str(work / "runs" / "vocoder" / "best.pt")]
            with contextlib.redirect_stdout(io.StringIO()):
                infer.main(argv)
            with open(out / "comparison.csv") as f:
                golden["infer"][run] = [{k: v for k, v in row.items()} for row in csv.DictReader(f)]
            model, _ = load_model(checkpoint, "cpu")
            vocoders = [work / "runs" / "vocoder" / "best.pt"] if "vocoder" in phase else []
            separator = Separator(model, "cpu", vocoders=vocoders)
            for track in list_tracks(root, "test"):
                mixture = track.load(("mixture",))["mixture"]
                estimates = separator.separate(mixture, phase.split(","))
                golden["waveforms"][f"{run}/{track.name}"] = {
                    f"{method}/{target}": _sha(wave) for method, waves in estimates.items()
                    for target, wave in waves.items()}
    finally:
        torch.set_num_threads(threads)
    return golden


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_text(json.dumps(run_pipeline(Path(tmp)), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
