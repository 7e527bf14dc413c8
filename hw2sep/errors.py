"""User-facing errors and the wrapper that turns them into one line and a non-zero exit."""

from __future__ import annotations

import sys
from typing import Callable, Sequence


class Hw2sepError(Exception):
    """A problem with the user's input (path, argument, file) that deserves one clear line, not a traceback."""


def run_cli(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
    """Run `main(argv)`; print `error: ...` and return 2 on a Hw2sepError, 130 on Ctrl-C."""
    try:
        main(argv)
    except Hw2sepError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
