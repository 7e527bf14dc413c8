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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix + ".tmp")
        os.close(fd)
    except OSError as err:
        raise write_error(path, err) from None
    tmp = Path(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        yield tmp
        os.replace(tmp, path)
    except OSError as err:  # a full disk, a vanished folder: the file under the final name is untouched
        raise write_error(path, err) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def write_error(path: str | os.PathLike, err: BaseException) -> Hw2sepError:
    """The one line for a failed write: the path, the reason, and that the existing file is unchanged."""
    reason = getattr(err, "strerror", None) or (str(err).splitlines()[0] if str(err) else type(err).__name__)
    return Hw2sepError(f"cannot write {path}: {reason} (a full disk? free space or choose another folder; "
                       "the file already there, if any, is unchanged)")


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
    except (OSError, RuntimeError) as err:  # libsndfile reports a full disk as a RuntimeError
        if isinstance(err, Hw2sepError):
            raise
        raise write_error(f"{what} {path}", err) from None
