"""The toy MUSDB on disk: the synthesised tracks of ``hw2sep.data.toy_music`` in MUSDB18-HQ layout (and .stem.mp4).

``make_toy_musdb`` writes (or reuses) a dataset: {train,test}/<name>/{mixture,drums,bass,other,vocals}.wav,
valid.txt and toy_musdb.json; ``ensure_demo_toy_musdb`` is the embedded test set infer.py uses without MUSDB18.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from hw2sep.common.files import atomic_path, write_json, write_text
from hw2sep.data.toy_music import SR, TOY_VERSION, synth_track, track_name
from hw2sep.errors import Hw2sepError
from hw2sep.names import STEMS

MANIFEST = "toy_musdb.json"
MP4_STREAMS = ("mixture",) + STEMS  # MUSDB18 stream order: 0 mixture, 1 drums, 2 bass, 3 other, 4 vocals


def _params(n_train, n_test, seconds, seed, stem_mp4, n_valid) -> dict:
    """Validate the arguments (Hw2sepError on nonsense) and return them as the manifest's key."""
    for name, v in (("n_train", n_train), ("n_test", n_test), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise Hw2sepError(f"{name} must be a non-negative integer, got {v!r}")
    if n_train + n_test == 0:
        raise Hw2sepError("nothing to generate: n_train and n_test are both 0")
    if not isinstance(seconds, (int, float, np.number)) or not 0 < float(seconds) <= 3600:
        raise Hw2sepError(f"seconds must be in (0, 3600], got {seconds!r}")
    if n_valid is None:
        n_valid = max(1, round(n_train * 14 / 100)) if n_train >= 2 else 0
    if isinstance(n_valid, bool) or not isinstance(n_valid, (int, np.integer)) or not 0 <= n_valid <= n_train:
        raise Hw2sepError(f"n_valid must be an integer in [0, n_train={n_train}], got {n_valid!r}")
    return dict(version=TOY_VERSION, seed=int(seed), seconds=float(seconds), n_train=int(n_train),
                n_test=int(n_test), n_valid=int(n_valid), stem_mp4=bool(stem_mp4), sample_rate=SR)


def _read_manifest(out: Path) -> dict | None:
    """The manifest of a toy dataset at `out`, or None; refuses a non-empty folder that is not one."""
    if out.exists() and not out.is_dir():
        raise Hw2sepError(f"{out} exists and is not a directory")
    try:
        return json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        if out.is_dir() and any(out.iterdir()):
            raise Hw2sepError(f"{out} is not empty and holds no {MANIFEST}: not a toy MUSDB; "
                              "pick a new or empty directory") from None
        return None


def _track_paths(out: Path, subset: str, name: str, stem_mp4: bool) -> list[Path]:
    """All files of one track: the five wavs and, optionally, the MUSDB18 .stem.mp4."""
    paths = [out / subset / name / f"{s}.wav" for s in MP4_STREAMS]
    return paths + ([out / subset / f"{name}.stem.mp4"] if stem_mp4 else [])


def _remove_tracks(out: Path, manifest: dict, keep: set) -> None:
    """Delete the tracks an older manifest lists that are not in `keep` (names checked: no path tricks)."""
    for subset, names in manifest.get("tracks", {}).items():
        for name in names:
            safe = subset in ("train", "test") and name.startswith("Toy ") and "/" not in name and ".." not in name
            if safe and (subset, name) not in keep:
                shutil.rmtree(out / subset / name, ignore_errors=True)
                (out / subset / f"{name}.stem.mp4").unlink(missing_ok=True)


def _write_wavs(folder: Path, audio: dict) -> None:
    """One track's five 16-bit wavs (int16 in, so the stored samples are exactly `audio`), atomically."""
    for s in MP4_STREAMS:
        with atomic_path(folder / f"{s}.wav", suffix=".wav") as tmp:
            sf.write(tmp, audio[s], SR, subtype="PCM_16")


def _write_mp4(path: Path, audio: dict) -> None:
    """MUSDB18's .stem.mp4: 5 AAC streams at 256 kb/s (mixture, drums, bass, other, vocals), atomically.

    stempeg's ffmpeg-based StreamsWriter; its NIStemsWriter would also need MP4Box, which musdb does not.
    """
    import stempeg  # slow import, and only this option needs ffmpeg

    data = np.stack([audio[s] for s in MP4_STREAMS]).astype(np.float32) / 32768.0
    writer = stempeg.StreamsWriter(codec="aac", bitrate=256000, stem_names=list(MP4_STREAMS))
    with atomic_path(path, suffix=".mp4") as tmp:
        stempeg.write_stems(str(tmp), data, sample_rate=SR, writer=writer)


def _build(out: Path, names: dict, params: dict, reuse: bool, say: Callable[[str], object]) -> None:
    """Synthesise and write every track not already on disk; AAC encodes overlap on a thread pool."""
    index = {"train": 0, "test": params["n_train"]}
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        jobs = []
        for subset, ns in names.items():
            for i, name in enumerate(ns, start=index[subset]):
                folder, mp4 = out / subset / name, out / subset / f"{name}.stem.mp4"
                if not params["stem_mp4"]:
                    mp4.unlink(missing_ok=True)
                have_wav = reuse and all((folder / f"{s}.wav").exists() for s in MP4_STREAMS)
                if have_wav and (not params["stem_mp4"] or mp4.exists()):
                    continue
                if have_wav:
                    audio = {s: sf.read(folder / f"{s}.wav", dtype="int16")[0] for s in MP4_STREAMS}
                else:
                    audio = synth_track(params["seed"], i, params["seconds"])[1]
                    _write_wavs(folder, audio)
                if params["stem_mp4"]:
                    jobs.append(pool.submit(_write_mp4, mp4, audio))
                    if len(jobs) > 4:  # bound the audio held by pending encodes
                        jobs.pop(0).result()
                say(f"{subset}/{name}")
        for job in jobs:
            job.result()


def make_toy_musdb(out: str | os.PathLike, n_train: int = 4, n_test: int = 2, seconds: float = 8.0,
                   seed: int = 0, stem_mp4: bool = False, n_valid: int | None = None,
                   progress: Callable[[str], object] | None = None) -> Path:
    """Write (or reuse) a toy MUSDB18-HQ dataset at `out`; returns `out`.

    Layout: {train,test}/<name>/{mixture,drums,bass,other,vocals}.wav, valid.txt (validation track
    names: the last n_valid training tracks) and toy_musdb.json (parameters), plus, with stem_mp4,
    MUSDB18's {train,test}/<name>.stem.mp4. Tracks on disk from the same version, seed and length are
    kept, so rerunning on a finished dataset is a no-op. `progress` gets one line per track written.
    """
    out, params = Path(out).expanduser(), _params(n_train, n_test, seconds, seed, stem_mp4, n_valid)
    say = progress or (lambda msg: None)
    names = {"train": [track_name(seed, i) for i in range(n_train)],
             "test": [track_name(seed, i) for i in range(n_train, n_train + n_test)]}
    files = [p for sub, ns in names.items() for n in ns for p in _track_paths(out, sub, n, stem_mp4)]
    old = _read_manifest(out)
    if old and old.get("params") == params and old.get("complete") and all(p.exists() for p in files):
        say(f"{out}: up to date")
        return out
    if stem_mp4 and shutil.which("ffmpeg") is None:
        raise Hw2sepError("stem_mp4 needs ffmpeg on the PATH")
    old_params = (old or {}).get("params", {})
    reuse = old is not None and all(old_params.get(k) == params[k] for k in ("version", "seed", "seconds"))
    valid = names["train"][n_train - params["n_valid"]:] if params["n_valid"] else []
    try:
        if old:  # first drop what the new dataset does not reuse, then claim the folder for it
            _remove_tracks(out, old, {(s, n) for s, ns in names.items() for n in ns} if reuse else set())
        write_json(out / MANIFEST, {"params": params, "complete": False, "tracks": names})
        for subset in names:  # both folders, even an empty one, as in MUSDB
            (out / subset).mkdir(exist_ok=True)
        _build(out, names, params, reuse, say)
        write_text(out / "valid.txt", "".join(f"{n}\n" for n in valid))
        write_json(out / MANIFEST, {"params": params, "complete": True, "tracks": names, "valid": valid})
    except OSError as err:  # unwritable folder, disk full, ...
        raise Hw2sepError(f"cannot write the toy dataset at {out}: {err}") from err
    return out


def toy_cache_root() -> Path:
    """Where cached toy datasets live: $HW2SEP_CACHE, else $XDG_CACHE_HOME/hw2sep, else ~/.cache/hw2sep."""
    if os.environ.get("HW2SEP_CACHE"):
        return Path(os.environ["HW2SEP_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "hw2sep"


def ensure_toy_musdb(root: str | os.PathLike | None = None, **params) -> Path:
    """The toy dataset at `root` (default toy_cache_root()/'toy_musdb'), generated on first use."""
    return make_toy_musdb(Path(root) if root is not None else toy_cache_root() / "toy_musdb", **params)


DEMO_TOY = {"n_train": 12, "n_test": 4, "seconds": 20.0, "seed": 0}  # the demo checkpoint's data


def ensure_demo_toy_musdb() -> Path:
    """The demo-size toy set (what models/umx_vocals.pt was trained on), generated on first use."""
    return ensure_toy_musdb(toy_cache_root() / "toy_musdb_demo", **DEMO_TOY)
