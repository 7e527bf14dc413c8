"""Convert MUSDB18 / MUSDB18-HQ to the npy cache that training reads.

    hw2sep-prep --musdb-root ~/data/musdb18hq --out ~/data/musdb_npy

Rerunning skips finished tracks; the test subset is refused unless --allow-test.
"""

import argparse
import time

from hw2sep.data.npy_cache import DTYPES, convert_to_npy, load_manifest


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--musdb-root", required=True, help="MUSDB18 (.stem.mp4) or MUSDB18-HQ (wav) root")
    parser.add_argument("--out", required=True, help="folder for the npy cache")
    parser.add_argument("--subsets", default="train,valid", help="comma-separated: train, valid, test")
    parser.add_argument("--all-stems", action="store_true", help="also store mixture, drums, bass, other")
    parser.add_argument("--dtype", default="int16", choices=sorted(DTYPES))
    parser.add_argument("--allow-test", action="store_true", help="allow converting the test subset")
    args = parser.parse_args(argv)
    start = time.time()
    manifest = convert_to_npy(args.musdb_root, args.out, subsets=[s for s in args.subsets.split(",") if s],
                              all_stems=args.all_stems, dtype=args.dtype, allow_test=args.allow_test)
    tracks = load_manifest(args.out)["tracks"]
    hours = sum(t["num_samples"] for t in tracks) / 44100 / 3600
    print(f"wrote {manifest}: {len(tracks)} tracks, {hours:.2f} h of audio, {time.time() - start:.1f} s")

