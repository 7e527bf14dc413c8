"""Settings are checked where they enter: each value against its dataclass field's type and range.

A wrong value (``--set epochs=2.5``, ``lr=fast``, ``augment.gain=abc``, ``model_options.hidden_size=abc``)
is one line naming the key, the value and what was expected, before any data is read.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from hw2sep.errors import Hw2sepError

NoneType = type(None)


def check_fields(cls: type, values: dict[str, Any], ranges: dict[str, tuple[float, bool]] | None = None,
                 prefix: str = "") -> None:
    """Refuse a value of ``values`` that does not fit the type of ``cls``'s field of that name, or its range.

    ``ranges`` maps a field to (lowest, inclusive): (1, True) is "at least 1", (0, False) "above 0".
    Nested dataclass fields given as dicts are checked against their own fields (``augment.gain``).
    """
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation this module cannot resolve: leave that class to its own checks
        return
    for key, value in values.items():
        if key not in hints:
            continue
        expected = mismatch(hints[key], value, f"{prefix}{key}")
        if expected:
            raise Hw2sepError(f"setting {prefix}{key}={_show(value)}: expected {expected}")
        lowest, inclusive = (ranges or {}).get(key, (None, True))
        if lowest is not None and value is not None and (value < lowest if inclusive else value <= lowest):
            raise Hw2sepError(f"{prefix}{key} must be {'at least' if inclusive else 'above'} {lowest}, "
                              f"got {_show(value)}")


def mismatch(hint: Any, value: Any, key: str = "") -> str | None:
    """What ``value`` should have been for type ``hint`` (e.g. "a whole number"), or None when it fits."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and NoneType in args:
            return None
        options = [a for a in args if a is not NoneType]
        problems = [mismatch(a, value, key) for a in options]
        if all(problems):
            return " or ".join(problems) + (" or null" if NoneType in args else "")
        return None
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if hint is float:
        return None if _is_number(value) else "a number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if origin is tuple or hint is tuple:
        return _tuple_mismatch(args, value)
    if origin is dict or hint is dict:
        return None if isinstance(value, dict) else "an object of settings"
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            value = {f.name: getattr(value, f.name) for f in dataclasses.fields(hint)}
        if not isinstance(value, dict):
            return f"an object with {', '.join(f.name for f in dataclasses.fields(hint))}"
        check_fields(hint, value, prefix=f"{key}.")
    return None


def _tuple_mismatch(args: tuple, value: Any) -> str | None:
    if not isinstance(value, (list, tuple)):
        return "a list"
    if len(args) == 2 and args[1] is Ellipsis:
        what = mismatch(args[0], None)
        wrong = [v for v in value if mismatch(args[0], v)]
        return f"a list of {what.removeprefix('a ')}s" if wrong else None
    if args and (len(value) != len(args) or any(mismatch(a, v) for a, v in zip(args, value))):
        return f"a list of {len(args)} numbers" if all(a in (int, float) for a in args) else f"a list of {len(args)} values"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return repr(value)[:60] if isinstance(value, str) else str(value)[:60]
