"""Convert MUSDB18(-HQ) to memory-mappable ``.npy`` files once, so training never decodes audio.

The assignment's tip: decoding ``.stem.mp4`` per excerpt costs most of an 18-minute epoch; reading
excerpts from memory-mapped numpy arrays costs almost nothing.

Layout written under ``out``::

    manifest.json                       # tracks, subsets, lengths, rate, dtype, source root, fingerprint
    <subset>/<track>/<source>.npy       # (nb_channels=2, nb_samples), int16 by default
    <subset>/<track>/track.json         # written last: marks the track complete, holds each file's byte size
                                        # and the fingerprint of the audio it was converted from

A rerun checks every finished file against the byte size in ``track.json`` and rewrites a track
whose file was cut short or whose source audio changed (another ``--musdb-root``, a regenerated or
re-downloaded track: `Track.fingerprint`), and removes the temporary files a killed run left behind.
The manifest's fingerprint includes the source fingerprints, so it changes whenever the arrays do.

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
from hw2sep.data.musdb import detect_layout, incomplete_note, list_tracks, training_subsets
from hw2sep.errors import Hw2sepError
from hw2sep.common.progress import progress as progress_bar
from hw2sep.common.files import atomic_path, write_json

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
    if not allow_test:
        training_subsets(subsets, " (pass --allow-test to convert it anyway, e.g. for fast evaluation)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise Hw2sepError(f"--out {out} exists and is not a folder")
    sources = ALL_SOURCES if all_stems else TRAINING_SOURCES
    tracks = [t for subset in subsets for t in list_tracks(musdb_root, subset)]
    if not tracks:
        raise Hw2sepError(f"no tracks in subsets {list(subsets)} under {musdb_root}")
    if "valid" in subsets and (note := incomplete_note("valid", sum(t.subset == "valid" for t in tracks))):
        print(note)
    _remove_temporaries(out)
    same_root = _previous_source_root(out) == str(Path(musdb_root).resolve())
    for track in progress_bar(tracks, progress, desc="musdb -> npy", unit="track"):
        folder = out / track.subset / track.name
        origin = track.fingerprint()
        if _is_complete(folder, sources, dtype, origin, adopt_legacy=same_root):
            continue
        audio = track.load(sources)
        _write_track(folder, track.name, track.subset, audio, dtype, origin)
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
    """Read ``manifest.json`` of an npy cache, with one clear error when it is missing or damaged."""
    path = Path(npy_root) / MANIFEST
    if not path.exists():
        raise Hw2sepError(f"no {MANIFEST} in {npy_root}: run python -m data_prep.musdb_to_npy first")
    try:
        manifest = json.loads(path.read_text())
        problem = _manifest_problem(manifest)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        problem = f"not valid json: {err}"
    if problem:
        raise Hw2sepError(f"{path} is damaged ({problem}): rerun python -m data_prep.musdb_to_npy --out {npy_root} "
                          "with the same --musdb-root to rewrite it (converted tracks are kept)")
    return manifest


def _manifest_problem(manifest) -> str | None:
    """What is wrong with a parsed manifest (the keys training and evaluation read), or None."""
    if not isinstance(manifest, dict):
        return "not a json object"
    if manifest.get("dtype") not in DTYPES:
        return f"dtype {manifest.get('dtype')!r} is not one of {', '.join(DTYPES)}"
    if not _is_number(manifest.get("scale")):
        return f"scale {manifest.get('scale')!r} is not a number"
    tracks = manifest.get("tracks")
    if not isinstance(tracks, list):
        return "no list of tracks"
    for track in tracks:
        if not (isinstance(track, dict) and isinstance(track.get("name"), str)
                and isinstance(track.get("subset"), str) and _is_count(track.get("num_samples"))):
            return f"track entry {str(track)[:60]} lacks a name, subset or sample count"
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load_source(npy_root: str | Path, track: dict, source: str) -> np.ndarray:
    """Memory-map one source of one manifest track. Shape: (nb_channels, nb_samples), stored dtype.

    A file whose size or shape disagrees with the manifest (a truncated copy) is refused, never mapped.
    """
    path = Path(npy_root) / track["subset"] / track["name"] / f"{source}.npy"
    check_source(npy_root, track, source)
    return np.load(path, mmap_mode="r")


def check_source(npy_root: str | Path, track: dict, source: str) -> None:
    """Raise one clear error if a cached source is missing or its size or shape is not what was written."""
    path = Path(npy_root) / track["subset"] / track["name"] / f"{source}.npy"
    if not path.exists():
        raise Hw2sepError(f"{path} is missing: rerun python -m data_prep.musdb_to_npy --out {npy_root} "
                          "with the same --musdb-root")
    problem = _npy_problem(path, track["num_samples"], (track.get("bytes") or {}).get(source))
    if problem:
        raise Hw2sepError(f"{path} is damaged ({problem}): rerun python -m data_prep.musdb_to_npy --out {npy_root} "
                          "with the same --musdb-root to repair it")


def _npy_problem(path: Path, num_samples: int | None = None, nbytes: int | None = None) -> str | None:
    """Why ``path`` is not a complete (2, num_samples) npy file of ``nbytes`` bytes, or None if it is."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
            needed = f.tell() + int(np.prod(shape)) * dtype.itemsize
    except (OSError, ValueError) as err:
        return f"unreadable npy header: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    if nbytes is not None and size != nbytes:
        return f"{size} bytes, track.json recorded {nbytes}"
    if size != needed:
        return f"{size} bytes, its header needs {needed}"
    if num_samples is not None and tuple(shape) != (2, num_samples):
        return f"shape {tuple(shape)}, expected (2, {num_samples})"
    return None


def fingerprint(manifest: dict) -> str:
    """Short hash of what a model was trained on: track names, subsets, lengths, dtype and each track's
    source fingerprint (where recorded), so other audio under the same names gives another hash."""
    tracks = [(t["subset"], t["name"], t["num_samples"], *([t["source"]] if "source" in t else []))
              for t in manifest["tracks"]]
    key = json.dumps([manifest["dtype"], tracks])
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def _write_track(folder: Path, name: str, subset: str, audio: dict[str, np.ndarray], dtype: str,
                 origin: str) -> None:
    """Write each source atomically, then ``track.json`` last as the completion mark (with the byte sizes)."""
    (folder / "track.json").unlink(missing_ok=True)  # a track being rewritten is not complete
    clipped, nbytes = {}, {}
    for source, wave in audio.items():
        stored, clipped[source] = _encode(wave, dtype)
        with atomic_path(folder / f"{source}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, stored)
        nbytes[source] = (folder / f"{source}.npy").stat().st_size
    num_samples = next(iter(audio.values())).shape[-1]
    write_json(folder / "track.json", {"name": name, "subset": subset, "num_samples": int(num_samples),
                                       "sources": list(audio), "dtype": dtype, "clipped_samples": clipped,
                                       "bytes": nbytes, "source": origin})


def _encode(wave: np.ndarray, dtype: str) -> tuple[np.ndarray, int]:
    """Scale to the stored dtype; return the array and how many samples had to be clipped."""
    if dtype == "float32":
        return wave.astype(np.float32), 0
    scaled = np.round(wave.astype(np.float64) * DTYPES[dtype])
    over = int(np.count_nonzero((scaled > 32767) | (scaled < -32768)))
    return np.clip(scaled, -32768, 32767).astype(np.int16), over


def _is_complete(folder: Path, sources: Iterable[str], dtype: str, origin: str, adopt_legacy: bool = False) -> bool:
    """Whether a track's ``track.json`` exists, was converted from the audio with fingerprint ``origin``,
    and every source file has the size it records.

    A track converted before fingerprints were recorded is kept (and its fingerprint recorded) only with
    ``adopt_legacy``, i.e. when the cache's manifest names this very --musdb-root; otherwise it is redone.
    """
    try:
        info = json.loads((folder / "track.json").read_text())
        recorded = origin if "source" not in info and adopt_legacy else info.get("source")
        complete = info["dtype"] == dtype and recorded == origin and set(sources) <= set(info["sources"]) and all(
            _npy_problem(folder / f"{s}.npy", info["num_samples"], (info.get("bytes") or {}).get(s)) is None
            for s in info["sources"])
    except (OSError, ValueError, KeyError, TypeError):  # no mark, or a damaged one: redo the track
        return False
    if complete and "source" not in info:
        write_json(folder / "track.json", {**info, "source": origin})
    return complete


def _previous_source_root(out: Path) -> str | None:
    """The --musdb-root an existing cache's manifest was converted from, or None."""
    try:
        return str(json.loads((out / MANIFEST).read_text())["source_root"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_track_meta(folder: Path) -> dict:
    info = json.loads((folder / "track.json").read_text())
    return {k: info[k] for k in ("name", "subset", "num_samples", "clipped_samples", "bytes", "source") if k in info}


def _remove_temporaries(out: Path) -> None:
    """Delete the ``.NAME.xxxx.tmp`` files of ``atomic_path`` that a killed run left in the cache."""
    for pattern in (".*.tmp", "*/*/.*.tmp"):
        for tmp in out.glob(pattern):
            if tmp.is_file():
                tmp.unlink()
