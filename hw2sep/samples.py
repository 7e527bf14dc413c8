"""Listening samples: short excerpts of mixture, references and estimates, with an index that names each.

Layout: ``samples/<slug(track)>/<slug(name)>.wav`` (``slug``: a readable name plus a hash of the exact
name, so two tracks never share a file) plus ``samples/index.json`` (one entry per file) and
``samples/index.md`` (the same as a table, with each estimate's SDR). Rewriting a sample replaces
its entry, so reruns never duplicate rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from hw2sep import SAMPLE_RATE
from hw2sep.data import detect_layout, list_tracks
from hw2sep.fileio import atomic_path, write_json, write_text

INDEX_FIELDS = ("track", "kind", "target", "model", "method", "sdr_db", "file")


def loudest_window(audio: np.ndarray, seconds: float) -> tuple[int, int]:
    """(start, stop) in samples of the ``seconds``-long window with the most energy, on a 0.25 s grid.

    The running energy is summed over blocks of the track, so a long track needs no float64 copy.
    Shape: (nb_channels, nb_samples).
    """
    size = min(int(seconds * SAMPLE_RATE), audio.shape[-1])
    starts = np.arange(0, audio.shape[-1] - size + 1, SAMPLE_RATE // 4)
    ends = np.unique(np.concatenate([starts, starts + size]))
    energy = np.zeros(len(ends))  # energy of audio[:, :end] for each end
    total, block = 0.0, 1 << 20
    for first in range(0, audio.shape[-1], block):
        running = total + np.concatenate([[0.0], np.cumsum((audio[:, first : first + block].astype(np.float64) ** 2).sum(0))])
        inside = (ends >= first) & (ends < first + len(running))
        energy[inside] = running[ends[inside] - first]
        total = running[-1]
    at = {int(e): v for e, v in zip(ends, energy)}
    gains = np.array([at[int(s) + size] - at[int(s)] for s in starts])
    best = int(starts[np.argmax(gains)])
    return best, best + size


def write_sample(samples_dir: str | Path, track: str, name: str, audio: np.ndarray, entry: dict) -> Path:
    """Write one excerpt (nb_channels, nb_samples) as 16-bit wav and record it in the index."""
    import soundfile as sf

    samples_dir = Path(samples_dir)
    path = samples_dir / slug(track) / f"{_readable(name)}.wav"  # names are ours and unique within a track
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), np.clip(audio.T, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    rel = path.relative_to(samples_dir).as_posix()
    _update_index(samples_dir, {**{k: None for k in INDEX_FIELDS}, **entry, "track": track, "file": rel})
    return path


def slug(text: str) -> str:
    """A file name unique to ``text``: a readable, file-name-safe part plus a short hash of the exact text.

    ``Don't Stop`` -> ``Don_t_Stop-<6 hex>`` and ``Don t Stop`` -> ``Don_t_Stop-<other 6 hex>``: names that
    differ only in punctuation, spaces or letter case (on case-insensitive disks) never share a file.
    """
    return f"{_readable(text)}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:6]}"


def _readable(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")[:80] or "untitled"


def read_index(samples_dir: str | Path) -> list[dict]:
    path = Path(samples_dir) / "index.json"
    return json.loads(path.read_text()) if path.exists() else []


def _update_index(samples_dir: Path, entry: dict) -> None:
    entries = [e for e in read_index(samples_dir) if e["file"] != entry["file"]] + [entry]
    entries.sort(key=lambda e: (e["track"], e["kind"] != "mixture", e["kind"], e["target"] or "",
                                e["model"] or "", e["method"] or ""))
    write_json(samples_dir / "index.json", entries)
    write_text(samples_dir / "index.md", _markdown(entries))


def _markdown(entries: list[dict]) -> str:
    lines = ["# Listening samples", "",
             "Excerpts (the loudest vocal passage of each track). SDR is the track's museval SDR",
             "(median over 1 s windows of the whole track) for that estimate.", "",
             "| track | kind | target | model | method | SDR (dB) | file |", "|---|---|---|---|---|---|---|"]
    for e in entries:
        sdr = "" if e["sdr_db"] is None else f"{e['sdr_db']:.2f}"
        lines.append(f"| {e['track']} | {e['kind']} | {e['target'] or ''} | {e['model'] or ''} | "
                     f"{e['method'] or ''} | {sdr} | [{e['file']}]({e['file'].replace(' ', '%20')}) |")
    return "\n".join(lines) + "\n"


def dataset_identity(musdb_root: str | os.PathLike) -> dict:
    """What a samples index was made from: toy or MUSDB18 (stems) or MUSDB18-HQ (wav), and its test tracks.

    The root's path is not part of it (the same dataset sits in different folders on Colab and at
    home); the test track names are.
    """
    root = Path(musdb_root)
    kind = "toy" if (root / "toy_musdb.json").exists() else {"wav": "MUSDB18-HQ", "stems": "MUSDB18"}[detect_layout(root)]
    return {"dataset": kind, "test_tracks": sorted(t.name for t in list_tracks(root, "test"))}


def start_samples_index(samples_dir: str | os.PathLike, musdb_root: str | os.PathLike) -> Path | None:
    """Record the dataset in SAMPLES/dataset.json; samples of another dataset move aside first.

    A toy run must not merge into a MUSDB run's index.md: when SAMPLES already holds samples of a
    different dataset (or of an unrecorded one), its index and wavs move to
    ``SAMPLES/previous/<dataset>-<n>/`` and a new index starts. Returns that folder, or None.
    """
    samples_dir = Path(samples_dir)
    identity = dataset_identity(musdb_root)
    record = samples_dir / "dataset.json"
    old = json.loads(record.read_text()) if record.exists() else None
    has_samples = (samples_dir / "index.json").exists()
    moved = None
    if has_samples and old != identity:
        name = (old or {}).get("dataset", "unknown")
        n = 1
        while (samples_dir / "previous" / f"{name}-{n}").exists():
            n += 1
        moved = samples_dir / "previous" / f"{name}-{n}"
        moved.mkdir(parents=True)
        for item in samples_dir.iterdir():
            if item.name not in ("previous", "README.md", ".gitignore"):
                shutil.move(str(item), moved / item.name)
    samples_dir.mkdir(parents=True, exist_ok=True)
    if old != identity or moved is not None:
        write_json(record, identity)
    return moved
