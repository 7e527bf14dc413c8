"""Checkpoints: ``NAME.pt`` (tensors only) plus ``NAME.json`` (model name, config, epoch, provenance).

A checkpoint rebuilds its model from the json alone, and loads with ``torch.load(weights_only=True)``
so a shared checkpoint cannot run code. The resumable training state (optimizer, scheduler, RNG) is
kept apart in ``last.pt``; ``best``, ``epoch_025`` ... hold the model weights only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hw2sep import __version__
from hw2sep.errors import Hw2sepError
from hw2sep.fileio import atomic_path, write_json
from hw2sep.models import build_model, count_parameters


def save_checkpoint(path: str | Path, model: nn.Module, model_name: str, model_config: dict,
                    info: dict[str, Any], extra_state: dict[str, Any] | None = None) -> Path:
    """Write ``path``.pt (weights, plus ``extra_state`` if given) and ``path``.json, atomically."""
    path = Path(path).with_suffix("")
    state = {"model": model.state_dict(), **(extra_state or {})}
    with atomic_path(path.with_suffix(".pt")) as tmp:
        torch.save(state, tmp)
    meta = {"model": model_name, "config": model_config, "parameters": count_parameters(model),
            "package_version": __version__, **info}
    write_json(path.with_suffix(".json"), meta)
    return path.with_suffix(".pt")


def read_meta(path: str | Path) -> dict:
    """The json sidecar of a checkpoint (``.pt`` or ``.json`` path, or the name without suffix)."""
    json_path = Path(path).with_suffix(".json")
    if not json_path.exists():
        raise Hw2sepError(f"checkpoint {Path(path).with_suffix('.pt')} has no {json_path.name} beside it "
                          "(missing checkpoint, or not an hw2sep checkpoint)")
    try:
        meta = json.loads(json_path.read_text())
    except json.JSONDecodeError as err:
        raise Hw2sepError(f"{json_path} is not valid json ({err})") from None
    if "model" not in meta or "config" not in meta:
        raise Hw2sepError(f"{json_path} lacks 'model'/'config': not an hw2sep checkpoint")
    return meta


def load_state(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """``torch.load`` with ``weights_only=True``, turning any failure into one clear line."""
    pt = Path(path).with_suffix(".pt")
    if not pt.exists():
        raise Hw2sepError(f"checkpoint {pt} not found")
    try:
        return torch.load(pt, map_location=device, weights_only=True)
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise Hw2sepError(f"cannot read checkpoint {pt}: {first_line}") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model named in the json sidecar, load its weights, return (model in eval mode, meta)."""
    meta = read_meta(path)
    model = build_model(meta["model"], meta["config"])
    state = load_state(path, device)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as err:
        raise Hw2sepError(f"checkpoint {Path(path).with_suffix('.pt')} does not fit its config "
                          f"({str(err).splitlines()[0]})") from None
    return model.to(device).eval(), meta
