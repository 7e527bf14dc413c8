"""Per-track scores as museval writes them (``TrackStore.scores``): the json of each scored track."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
from decimal import Decimal

import numpy as np


def track_json(
    track_name: str, target_names: list[str], scores: dict[str, np.ndarray], win: int, hop: int, rate: int
) -> dict:
    """Per-track scores laid out as museval's `TrackStore.scores` (the json museval writes per track).

    Values are rounded to 5 decimals as museval does; NaN and ±inf become NaN. Times are in seconds.
    `track_name` names the file in museval, it is not inside the json.
    Shape: scores[metric] (nb_sources, nb_windows), one source per entry of `target_names`.
    """
    del track_name
    order = ("SDR", "SIR", "SAR", "ISR")  # museval's key order
    targets = []
    for i, name in enumerate(target_names):
        rows = zip(*(scores[m][i] for m in order))  # one row of 4 values per window
        metrics = [{m: _quantise(v) for m, v in zip(order, row)} for row in rows]
        frames = [{"time": t * hop / rate, "duration": win / rate, "metrics": m} for t, m in enumerate(metrics)]
        targets.append({"name": name, "frames": frames})
    return {"targets": targets, "museval_version": _museval_version()}


def track_json_text(obj: dict) -> str:
    """Serialise `track_json` output like museval: indent 2, NaN written as the bare token `NaN`."""
    return json.dumps(obj, indent=2, allow_nan=True)


def _quantise(value: float) -> float:
    """museval's storage rounding: 5 decimals, half-even on the exact binary value; NaN, ±inf -> NaN."""
    value = float(value)
    return float(Decimal(value).quantize(Decimal(".00001"))) if np.isfinite(value) else float("nan")


def _museval_version() -> str:
    """The version string museval writes in its json, read without importing museval."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        return importlib.metadata.version("museval")
    return "0.4.1"
