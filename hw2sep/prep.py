"""Convert MUSDB18(-HQ) to memory-mappable ``.npy`` files once, so training never decodes audio.

The assignment's tip: decoding ``.stem.mp4`` per excerpt costs most of an 18-minute epoch; reading
excerpts from memory-mapped numpy arrays costs almost nothing.

Layout written under ``out``::

    manifest.json                       # tracks, subsets, lengths, rate, dtype, source root, fingerprint
    <subset>/<track>/<source>.npy       # (nb_channels=2, nb_samples), int16 by default
    <subset>/<track>/track.json         # written last: marks the track complete

dtype: ``int16`` (default) stores ``round(x * 32768)``, which is exact for 16-bit sources (MUSDB18-HQ
wavs are 16-bit; decoded AAC is rounded to the nearest 16-bit step, below the codec's own error)
and halves disk and RAM against float32. Full MUSDB18 holds about 10 h of audio, roughly two
thirds of it in train+valid: about 4 GB per source in int16, so ~8 GB for vocals + accompaniment
(~16 GB in float32; ``all_stems`` adds mixture, drums, bass, other).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from hw2sep import SAMPLE_RATE, STEMS, __version__
from hw2sep.data import detect_layout, list_tracks
from hw2sep.errors import Hw2sepError
from hw2sep.fileio import atomic_path, write_json

TRAINING_SOURCES = ("vocals", "accompaniment")
ALL_SOURCES = ("mixture", *STEMS, "accompaniment")
DTYPES = {"int16": 32768.0, "float32": 1.0}  # stored = audio * scale
MANIFEST = "manifest.json"


def convert_to_npy(musdb_root: str | Path, out: str | Path, subsets: Sequence[str] = ("train", "valid"),
                   all_stems: bool = False, dtype: str = "int16", allow_test: bool = False,
                   progress: bool = True) -> Path:
    """Write the npy cache for ``subsets`` and return the manifest path; finished tracks are skipped.

    The test subset is refused unless ``allow_test`` (it must never feed training).
    """
    if dtype not in DTYPES:
        raise Hw2sepError(f"unknown dtype '{dtype}'; choose from {', '.join(DTYPES)}")
    if "test" in subsets and not allow_test:
        raise Hw2sepError("refusing to convert the test subset: it is never used for training "
                          "(pass --allow-test to convert it anyway, e.g. for fast evaluation)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise Hw2sepError(f"--out {out} exists and is not a folder")
    sources = ALL_SOURCES if all_stems else TRAINING_SOURCES
    tracks = [t for subset in subsets for t in list_tracks(musdb_root, subset)]
    if not tracks:
        raise Hw2sepError(f"no tracks in subsets {list(subsets)} under {musdb_root}")
    for track in _progress(tracks, progress):
        folder = out / track.subset / track.name
        if _is_complete(folder, sources, dtype):
            continue
        audio = track.load(sources)
        _write_track(folder, track.name, track.subset, audio, dtype)
    manifest = {
        "format": "hw2sep-npy", "version": 1, "package_version": __version__,
        "sample_rate": SAMPLE_RATE, "dtype": dtype, "scale": DTYPES[dtype], "sources": list(sources),
        "source_root": str(Path(musdb_root).resolve()), "layout": detect_layout(musdb_root),
        "tracks": [_read_track_meta(out / t.subset / t.name) for t in tracks],
    }
    manifest["fingerprint"] = fingerprint(manifest)
    write_json(out / MANIFEST, manifest)
    return out / MANIFEST


def load_manifest(npy_root: str | Path) -> dict:
    """Read ``manifest.json`` of an npy cache, with a clear error when it is missing."""
    path = Path(npy_root) / MANIFEST
    if not path.exists():
        raise Hw2sepError(f"no {MANIFEST} in {npy_root}: run data_prep/musdb_to_npy.py first")
    return json.loads(path.read_text())


def load_source(npy_root: str | Path, track: dict, source: str) -> np.ndarray:
    """Memory-map one source of one manifest track. Shape: (nb_channels, nb_samples), stored dtype."""
    path = Path(npy_root) / track["subset"] / track["name"] / f"{source}.npy"
    if not path.exists():
        raise Hw2sepError(f"{path} is missing: rerun data_prep/musdb_to_npy.py")
    return np.load(path, mmap_mode="r")


def fingerprint(manifest: dict) -> str:
    """Short hash of what a model was trained on: track names, subsets, lengths, dtype."""
    key = json.dumps([manifest["dtype"], [(t["subset"], t["name"], t["num_samples"]) for t in manifest["tracks"]]])
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def _write_track(folder: Path, name: str, subset: str, audio: dict[str, np.ndarray], dtype: str) -> None:
    """Write each source atomically, then ``track.json`` last as the completion mark."""
    clipped = {}
    for source, wave in audio.items():
        stored, clipped[source] = _encode(wave, dtype)
        with atomic_path(folder / f"{source}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, stored)
    num_samples = next(iter(audio.values())).shape[-1]
    write_json(folder / "track.json", {"name": name, "subset": subset, "num_samples": int(num_samples),
                                       "sources": list(audio), "dtype": dtype, "clipped_samples": clipped})


def _encode(wave: np.ndarray, dtype: str) -> tuple[np.ndarray, int]:
    """Scale to the stored dtype; return the array and how many samples had to be clipped."""
    if dtype == "float32":
        return wave.astype(np.float32), 0
    scaled = np.round(wave.astype(np.float64) * DTYPES[dtype])
    over = int(np.count_nonzero((scaled > 32767) | (scaled < -32768)))
    return np.clip(scaled, -32768, 32767).astype(np.int16), over


def _is_complete(folder: Path, sources: Iterable[str], dtype: str) -> bool:
    meta = folder / "track.json"
    if not meta.exists():
        return False
    info = json.loads(meta.read_text())
    return info["dtype"] == dtype and set(sources) <= set(info["sources"]) and all(
        (folder / f"{s}.npy").exists() for s in sources)


def _read_track_meta(folder: Path) -> dict:
    info = json.loads((folder / "track.json").read_text())
    return {k: info[k] for k in ("name", "subset", "num_samples", "clipped_samples")}


def _progress(items: list, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm
    return tqdm(items, desc="musdb -> npy", unit="track")
