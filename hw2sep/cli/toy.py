"""Generate the toy MUSDB dataset (MUSDB18-HQ wav layout, optionally MUSDB18 .stem.mp4 too).

    hw2sep-toy --out DIR [--train N] [--test N] [--seconds S] [--seed K]
                                       [--stem-mp4] [--valid N]

Rerunning with the same arguments on a finished dataset is a no-op (it serves as a cache).
"""

import argparse
import time
from pathlib import Path
from typing import Sequence

from hw2sep.data.toy import make_toy_musdb


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; the values are checked by `make_toy_musdb` (one-line errors)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="dataset root to create (or reuse)")
    ap.add_argument("--train", type=int, default=4, help="number of training tracks (default 4)")
    ap.add_argument("--test", type=int, default=2, help="number of test tracks (default 2)")
    ap.add_argument("--seconds", type=float, default=8.0, help="track length in seconds (default 8)")
    ap.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    ap.add_argument("--stem-mp4", action="store_true", help="also write MUSDB18 .stem.mp4 files (needs ffmpeg)")
    ap.add_argument("--valid", type=int, default=None,
                    help="validation tracks listed in valid.txt (default max(1, round(0.14 * train)))")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the dataset, printing each track written and the time taken."""
    args = parse_args(argv)
    start = time.perf_counter()
    out = make_toy_musdb(args.out, n_train=args.train, n_test=args.test, seconds=args.seconds, seed=args.seed,
                         stem_mp4=args.stem_mp4, n_valid=args.valid, progress=lambda msg: print(f"  {msg}", flush=True))
    kind = "wav + stem.mp4" if args.stem_mp4 else "wav"
    print(f"toy MUSDB ({args.train} train + {args.test} test tracks of {args.seconds:g} s, {kind}, seed {args.seed}) "
          f"at {out} in {time.perf_counter() - start:.1f} s")

