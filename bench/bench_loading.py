"""Training excerpts per second: our npy dataset vs decoding on the fly (musdb .stem.mp4, wav).

    python bench/bench_loading.py [--tracks 6] [--seconds 30] [--excerpts 40]

All readers draw 6 s excerpts of vocals + accompaniment from the same toy tracks. The musdb rows
read the way Open-Unmix's MUSDBDataset does (chunk_start/chunk_duration, one decode per source
and excerpt). The "raw" row is what training uses: int16 excerpts, augmentation finished on the
device by apply_augmentation (not included in the timing). The last line checks the GPU budget: a training step of ~30 ms for a batch of 16
needs >= 533 excerpts/s from the loader with 2 workers.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hw2sep.data.excerpts import Augment, ExcerptDataset  # noqa: E402
from hw2sep.data.npy_cache import convert_to_npy  # noqa: E402
from hw2sep.data.toy import make_toy_musdb  # noqa: E402

SEQ = 6.0
GPU_STEP_S, BATCH = 0.030, 16


def rate(fn, count: int) -> float:
    """Excerpts per second of ``fn()`` called ``count`` times (after one warm-up call)."""
    fn()
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def musdb_reader(root: Path, is_wav: bool):
    """One Open-Unmix-style excerpt: random track, random chunk, every source decoded separately."""
    import musdb
    db = musdb.DB(root=str(root), subsets="train", is_wav=is_wav)

    def read():
        track = random.choice(db.tracks)
        track.chunk_duration = SEQ
        track.chunk_start = random.uniform(0, track.duration - SEQ)
        sources = [track.sources[name].audio.T for name in ("vocals", "drums", "bass", "other")]
        return sources[0], sum(sources[1:])
    return read


def loader_rate(dataset: ExcerptDataset, workers: int, batches: int) -> float:
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=workers)
    iterator = iter(loader)
    next(iterator)  # workers started
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--excerpts", type=int, default=40, help="excerpts timed for the on-the-fly readers")
    args = parser.parse_args()
    random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_toy_musdb(Path(tmp) / "toy", n_train=args.tracks, n_test=0, seconds=args.seconds,
                              stem_mp4=True, n_valid=1)
        convert_to_npy(root, Path(tmp) / "npy", progress=False)
        dataset = ExcerptDataset(Path(tmp) / "npy", "train", SEQ, samples_per_track=400, augment=Augment())
        training = ExcerptDataset(Path(tmp) / "npy", "train", SEQ, samples_per_track=400, augment=Augment(), raw=True)
        index = iter(range(10**9))
        rows = [("musdb, .stem.mp4 (Open-Unmix way)", rate(musdb_reader(root, False), max(4, args.excerpts // 4))),
                ("musdb, wav (is_wav=True)", rate(musdb_reader(root, True), args.excerpts)),
                ("hw2sep npy, 1 process", rate(lambda: dataset[next(index)], 20 * args.excerpts)),
                ("hw2sep npy, DataLoader 2 workers", loader_rate(dataset, 2, 40)),
                ("hw2sep npy raw (training), 2 workers", loader_rate(training, 2, 60))]
    base = rows[0][1]
    print(f"\n{'reader':<36}{'excerpts/s':>12}{'vs stems':>10}")
    for name, value in rows:
        print(f"{name:<36}{value:>12.1f}{value / base:>9.0f}x")
    need = BATCH / GPU_STEP_S
    print(f"\nGPU step budget: {BATCH} excerpts per {GPU_STEP_S * 1000:.0f} ms = {need:.0f} excerpts/s needed; "
          f"2 workers give {rows[-1][1]:.0f} ({rows[-1][1] / need:.1f}x the need)")


if __name__ == "__main__":
    main()
