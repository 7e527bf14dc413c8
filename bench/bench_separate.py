"""Separation speed on CPU: real-time factor of a full-size (hidden 512) UMX per reconstruction method.

    python bench/bench_separate.py [--seconds 60] [--device cpu]

RTF = processing seconds / audio seconds (below 1 is faster than real time). The model has random
weights: speed does not depend on training. The track is a toy track of the requested length.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hw2sep.data.musdb import list_tracks  # noqa: E402
from hw2sep.common.devices import resolve_device  # noqa: E402
from hw2sep.models import build_model, model_config  # noqa: E402
from hw2sep.separation.separator import Separator  # noqa: E402
from hw2sep.data.toy import make_toy_musdb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", default="mixture,wiener,griffinlim,griffinlim-librosa")
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_toy_musdb(Path(tmp) / "toy", n_train=0, n_test=1, seconds=args.seconds)
        mixture = list_tracks(root, "test")[0].load(("mixture",))["mixture"]
    torch.manual_seed(0)
    separator = Separator(build_model("umx", model_config("umx")).eval(), device)
    separator.magnitudes(mixture[:, :44100])  # warm-up
    start = time.perf_counter()
    separator.magnitudes(mixture)
    model_seconds = time.perf_counter() - start
    print(f"\n{args.seconds:g} s stereo track, UMX hidden 512, device {device}")
    print(f"{'stage / method':<24}{'seconds':>9}{'RTF':>8}  (model + reconstruction)")
    print(f"{'model magnitudes only':<24}{model_seconds:>9.2f}{model_seconds / args.seconds:>8.3f}")
    for method in args.methods.split(","):
        start = time.perf_counter()
        separator.separate(mixture, [method])
        took = time.perf_counter() - start
        print(f"{method:<24}{took:>9.2f}{took / args.seconds:>8.3f}")


if __name__ == "__main__":
    main()
