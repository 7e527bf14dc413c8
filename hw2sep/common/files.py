"""Atomic writes: a crash or Ctrl-C never leaves a half-written file under the final name."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from hw2sep.errors import Hw2sepError


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    `suffix` keeps the extension some writers need (soundfile, numpy); default: `path`'s own.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix + ".tmp")
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented json, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: str | os.PathLike, rows: Iterable[dict], fields: Sequence[str]) -> None:
    """Write dict rows as csv with a header of ``fields`` (extra keys ignored), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def check_writable(folder: str | os.PathLike, what: str) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any long work starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise Hw2sepError(f"{what} {folder} is not writable ({err.strerror or err}); choose another folder") from None
    return folder


def read_json_file(path: str | os.PathLike, what: str, hint: str) -> Any:
    """A json file the user points at; a missing or invalid one is one line (``hint`` says where to look)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise Hw2sepError(f"{what} {path} not found ({hint})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Hw2sepError(f"{what} {path} is not valid json ({err})") from None


@contextmanager
def disk_errors(path: str | os.PathLike, what: str = "file") -> Iterator[None]:
    """Turn an OSError while writing ``path`` (disk full, no permission) into one line naming the path.

    Writes under it go through `atomic_path`, so what was written before stays intact.
    """
    try:
        yield
    except OSError as err:
        raise Hw2sepError(f"cannot write {what} {path}: {err.strerror or err}; free some space or choose "
                          "another folder, then rerun (finished files are kept)") from None
