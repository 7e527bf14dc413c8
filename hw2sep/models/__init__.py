"""Models by name: build any registered network from the config dict saved in its checkpoint.

Every model maps a mixture magnitude (nb_samples, nb_channels, nb_bins, nb_frames) to the vocals
magnitude of the same shape; the accompaniment is the residual (see ``hw2sep.separate``).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from torch import nn

from hw2sep.errors import Hw2sepError
from hw2sep.models.umx import OpenUnmix, UMXConfig

MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "umx": (OpenUnmix, UMXConfig),
}


def model_config(name: str, **overrides: Any) -> dict:
    """The full config dict of model ``name``: its defaults updated with ``overrides``."""
    _, config_cls = _lookup(name)
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(overrides) - known
    if unknown:
        raise Hw2sepError(f"model '{name}' has no option(s) {sorted(unknown)}; options: {sorted(known)}")
    return dataclasses.asdict(config_cls(**overrides))


def build_model(name: str, config: dict | None = None) -> nn.Module:
    """Build model ``name`` from a (saved) config dict; unknown keys are dropped with a warning."""
    model_cls, config_cls = _lookup(name)
    config = dict(config or {})
    known = {f.name for f in dataclasses.fields(config_cls)}
    dropped = sorted(set(config) - known)
    if dropped:
        warnings.warn(f"ignoring unknown {name} config keys {dropped}", stacklevel=2)
    return model_cls(config_cls(**{k: v for k, v in config.items() if k in known}))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (what the assignment's 10 M bound counts)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _lookup(name: str) -> tuple[type[nn.Module], type]:
    if name not in MODELS:
        raise Hw2sepError(f"unknown model '{name}'; registered: {', '.join(MODELS)}")
    return MODELS[name]
