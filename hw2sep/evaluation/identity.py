"""What a cached evaluation result was computed from, and the names results are filed under.

A track's score is reused only when its key matches: the metric, the checkpoint's digest, every
setting of the method, and the fingerprint of the track's audio (``Track.fingerprint``), so a
regenerated or re-encoded dataset with the same track names is scored again, never reported stale.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

from hw2sep.data.musdb import Track
from hw2sep.errors import Hw2sepError


def track_key(key: dict, track: Track, fingerprint: str | None = None) -> dict:
    """``key`` (metric, checkpoint digest, method settings) plus the identity of ``track``'s audio."""
    return {**key, "audio": fingerprint or track.fingerprint()}


def dataset_fingerprint(tracks: Sequence[Track]) -> str:
    """One short hash of several tracks' names and audio fingerprints (e.g. a whole test set)."""
    sha = hashlib.sha1()
    for track in sorted(tracks, key=lambda t: (t.subset, t.name)):
        sha.update(f"{track.subset}/{track.name}={track.fingerprint()}\n".encode())
    return sha.hexdigest()[:16]


def checkpoint_labels(checkpoints: Sequence[str | os.PathLike]) -> list[str]:
    """The result folder name of each checkpoint: its file name, or ``<run folder>_<file name>`` where
    two checkpoints share a file name (runs/umx/best.pt, runs/unet/best.pt); refused if still ambiguous."""
    paths = [Path(c) for c in checkpoints]
    stems = [p.with_suffix("").name for p in paths]
    labels = [f"{p.resolve().parent.name}_{s}" if stems.count(s) > 1 else s for p, s in zip(paths, stems)]
    for index, label in enumerate(labels):
        if labels.index(label) != index:
            other = paths[labels.index(label)]
            same = other.resolve() == paths[index].resolve()
            raise Hw2sepError(f"--checkpoints {other} and {paths[index]} "
                              + ("are the same file; give it once" if same else
                                 f"would both be filed as '{label}'; rename one (results would overwrite each other)"))
    return labels


def check_counts(workers: int | None, n_sample_tracks: int) -> None:
    """Refuse a negative --workers or --sample-tracks (before any model is loaded)."""
    if workers is not None and workers < 0:
        raise Hw2sepError(f"--workers must be 0 (score in-process) or more, got {workers}")
    if n_sample_tracks < 0:
        raise Hw2sepError(f"--sample-tracks must be 0 or more, got {n_sample_tracks}")
