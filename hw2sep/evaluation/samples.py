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
from hw2sep.data.musdb import detect_layout, list_tracks
from hw2sep.common.files import atomic_path, disk_errors, write_json, write_text
from hw2sep.evaluation.identity import dataset_fingerprint
from hw2sep.names import metric_label
from hw2sep.report.results import read_index

INDEX_FIELDS = ("track", "kind", "target", "model", "method", "sdr_db", "metric", "file")


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
    with disk_errors(path, "listening sample"), atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), np.clip(audio.T, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    rel = path.relative_to(samples_dir).as_posix()
    _update_index(samples_dir, {**{k: None for k in INDEX_FIELDS}, **entry, "track": track, "file": rel})
    return path


def drop_stale_samples(samples_dir: str | Path, model: str, keys: dict[str, dict]) -> list[str]:
    """Remove ``model``'s estimates whose result key (checkpoint digest, method settings) is not ``keys[method]``.

    An entry's SDR belongs to the audio it was scored on: a retrained checkpoint under the same label, or
    other settings, must not leave old excerpts with old scores in the index. Returns the files removed.
    """
    samples_dir = Path(samples_dir)
    entries = read_index(samples_dir)
    stale = [e for e in entries if e.get("kind") == "estimate" and e.get("model") == model and e.get("method") in keys
             and {k: v for k, v in (e.get("key") or {}).items() if k != "audio"} != keys[e["method"]]]
    if stale:
        for e in stale:
            (samples_dir / e["file"]).unlink(missing_ok=True)
        _write_index(samples_dir, [e for e in entries if e not in stale])
        print(f"removed {len(stale)} listening sample(s) of {model} made by another checkpoint or other settings")
    return [e["file"] for e in stale]


def slug(text: str) -> str:
    """A file name unique to ``text``: a readable, file-name-safe part plus a short hash of the exact text.

    ``Don't Stop`` -> ``Don_t_Stop-<6 hex>`` and ``Don t Stop`` -> ``Don_t_Stop-<other 6 hex>``: names that
    differ only in punctuation, spaces or letter case (on case-insensitive disks) never share a file.
    """
    return f"{_readable(text)}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:6]}"


def _readable(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")[:80] or "untitled"


def _update_index(samples_dir: Path, entry: dict) -> None:
    _write_index(samples_dir, [e for e in read_index(samples_dir) if e["file"] != entry["file"]] + [entry])


def _write_index(samples_dir: Path, entries: list[dict]) -> None:
    entries.sort(key=lambda e: (e["track"], e["kind"] != "mixture", e["kind"], e["target"] or "",
                                e["model"] or "", e["method"] or ""))
    with disk_errors(samples_dir / "index.json", "samples index"):
        write_json(samples_dir / "index.json", entries)
        write_text(samples_dir / "index.md", _markdown(entries))


def _markdown(entries: list[dict]) -> str:
    scorers = sorted({e.get("metric") for e in entries if e.get("metric")})
    lines = ["# Listening samples", "",
             "Excerpts (the loudest vocal passage of each track). SDR is the track's SDR for that estimate (median",
             "over 1 s windows of the whole track), scored with " + ("; ".join(map(metric_label, scorers)) or
                                                                     "no scorer recorded") + ".", "",
             "| track | kind | target | model | method | SDR (dB) | metric | file |",
             "|---|---|---|---|---|---|---|---|"]
    for e in entries:
        sdr = "" if e["sdr_db"] is None else f"{e['sdr_db']:.2f}"
        lines.append(f"| {e['track']} | {e['kind']} | {e['target'] or ''} | {e['model'] or ''} | "
                     f"{e['method'] or ''} | {sdr} | {e.get('metric') or ''} | "
                     f"[{e['file']}]({e['file'].replace(' ', '%20')}) |")
    return "\n".join(lines) + "\n"


def dataset_identity(musdb_root: str | os.PathLike) -> dict:
    """What a samples index was made from: toy or MUSDB18 (stems) or MUSDB18-HQ (wav), its test tracks and
    their audio (`dataset_fingerprint`).

    The root's path is not part of it (the same dataset sits in different folders on Colab and at
    home); the test track names and audio are: a toy set regenerated with the same names is another one.
    """
    root = Path(musdb_root)
    kind = "toy" if (root / "toy_musdb.json").exists() else {"wav": "MUSDB18-HQ", "stems": "MUSDB18"}[detect_layout(root)]
    tracks = list_tracks(root, "test")
    return {"dataset": kind, "test_tracks": sorted(t.name for t in tracks), "audio": dataset_fingerprint(tracks)}


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
