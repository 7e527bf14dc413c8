"""The notebooks' paths and settings, set once: defaults < settings file < environment < the parameters cell.

Every notebook's parameters cell calls ``settings = load_settings(SMOKE)`` and copies its fields
into the notebook's variables (MUSDB_ROOT, WORK, DEVICE, CONFIG, METRIC, N_TRACKS), where they can
still be overridden by hand. Sources, later ones winning:

1. defaults (on Colab: MUSDB18 on Drive, outputs on the local /content disk, run folders mirrored to Drive);
2. ``hw2sep_settings.json`` at the repository root (git-ignored; copy hw2sep_settings.example.json),
   or the file named by ``$HW2SEP_SETTINGS``; keys as the notebook variables: {"MUSDB_ROOT": ..., ...};
3. environment variables ``HW2SEP_MUSDB_ROOT``, ``HW2SEP_WORK``, ``HW2SEP_DEVICE``, ``HW2SEP_CONFIG``,
   ``HW2SEP_METRIC``, ``HW2SEP_N_TRACKS``, ``HW2SEP_DRIVE``.

SMOKE (CI) ignores the settings file, so a smoke run never writes into the student's WORK.
Also here: `mirror_folder` / `mirrored`, which copy a run folder's checkpoints to Drive while and
after training, so that a Colab disconnect loses nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterator, Sequence

from hw2sep.errors import Hw2sepError
from hw2sep.evaluation.metrics import BACKENDS

REPO = Path(__file__).resolve().parents[2]
SETTINGS_FILE = "hw2sep_settings.json"
COLAB_DRIVE = Path("/content/drive/MyDrive")
MIRRORED = ("*.pt", "*.json", "log.csv")  # what a run folder needs to resume and to be reported


@dataclass
class Settings:
    """Resolved notebook settings; ``origin`` says where each value came from (default, file, env)."""

    MUSDB_ROOT: str = "~/data/musdb18hq"
    WORK: str = "."
    DEVICE: str = "auto"
    CONFIG: str = "configs/umx.json"
    METRIC: str = "museval"
    N_TRACKS: int | None = None
    DRIVE: str | None = None  # a Drive folder mirroring WORK's run folders (Colab), or None
    origin: dict = field(default_factory=dict, repr=False)

    def table(self) -> str:
        """One line per setting with its origin, for the parameters cell's output."""
        return "\n".join(f"{f.name:<11}= {getattr(self, f.name)!r:<40} ({self.origin.get(f.name, 'default')})"
                         for f in fields(self) if f.name != "origin")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def _defaults(smoke: bool, colab: bool) -> dict:
    if smoke:
        return {"WORK": "scratch/smoke", "METRIC": "fast", "DEVICE": "cpu"}
    if colab:  # MUSDB18 stays on Drive; caches, checkpoints and results on the fast local disk
        return {"MUSDB_ROOT": str(COLAB_DRIVE / "musdb18"), "WORK": "/content/hw2sep_work",
                "DRIVE": str(COLAB_DRIVE / "hw2sep_work")}
    return {}


def _coerce(key: str, value):
    if key == "N_TRACKS":
        return None if value in (None, "", "None", "all") else int(value)
    if key == "METRIC" and value not in BACKENDS:
        raise Hw2sepError(f"METRIC={value!r}: choose one of {', '.join(BACKENDS)}")
    return None if value in (None, "") else str(value)


def load_settings(smoke: bool = False, path: str | os.PathLike | None = None, colab: bool | None = None) -> Settings:
    """The notebook settings: defaults, then the settings file (not in SMOKE), then HW2SEP_* variables."""
    colab = in_colab() if colab is None else colab
    keys = [f.name for f in fields(Settings) if f.name != "origin"]
    values, origin = {}, {}
    for key, value in _defaults(smoke, colab).items():
        values[key], origin[key] = value, "SMOKE default" if smoke else "Colab default"
    path = Path(path or os.environ.get("HW2SEP_SETTINGS") or REPO / SETTINGS_FILE)
    if not smoke and path.exists():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise Hw2sepError(f"{path} is not valid json ({err})") from None
        unknown = sorted(set(stored) - set(keys))
        if unknown:
            raise Hw2sepError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(keys)}")
        for key, value in stored.items():
            values[key], origin[key] = value, path.name
    for key in keys:
        if os.environ.get(f"HW2SEP_{key}") not in (None, ""):
            values[key], origin[key] = os.environ[f"HW2SEP_{key}"], f"$HW2SEP_{key}"
    return Settings(**{k: _coerce(k, v) for k, v in values.items()}, origin=origin)


# ------------------------------------------------------------------------------------------ Drive mirror


def mirror_folder(src: str | os.PathLike, dst: str | os.PathLike, patterns: Sequence[str] = MIRRORED) -> list[Path]:
    """Copy the files of `src` matching `patterns` to `dst` when new or changed (size or mtime), atomically.

    Each file is copied to ``dst/.name.tmp`` then renamed, so a disconnect mid-copy leaves the
    previous complete copy. Returns the copied destinations. A missing `src` copies nothing.
    """
    src, dst = Path(src), Path(dst)
    copied = []
    for pattern in patterns:
        for path in sorted(src.glob(pattern)):
            target = dst / path.name
            stat = path.stat()
            if target.exists() and target.stat().st_size == stat.st_size and target.stat().st_mtime >= stat.st_mtime:
                continue
            dst.mkdir(parents=True, exist_ok=True)
            tmp = dst / f".{path.name}.tmp"
            shutil.copy2(path, tmp)
            os.replace(tmp, target)
            copied.append(target)
    return copied


@contextlib.contextmanager
def mirrored(src: str | os.PathLike, dst: str | os.PathLike | None, every_s: float = 300.0) -> Iterator[None]:
    """Mirror `src` to `dst` every `every_s` seconds in a background thread, and once more at the end.

    ``with mirrored(ws.run, drive_run): fit(...)``; with ``dst=None`` it does nothing.
    """
    if dst is None:
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            with contextlib.suppress(OSError):  # Drive hiccup: the next round copies again
                mirror_folder(src, dst)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        copied = mirror_folder(src, dst)
        print(f"mirrored {src} -> {dst} ({len(copied)} file(s) updated)")


def restore_folder(backup: str | os.PathLike | None, dst: str | os.PathLike) -> list[Path]:
    """Copy a mirrored run back (e.g. from Drive to a fresh Colab disk) before resuming; None: nothing."""
    if backup is None or not Path(backup).exists():
        return []
    return mirror_folder(backup, dst)
