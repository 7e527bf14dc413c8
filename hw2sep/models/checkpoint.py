"""Checkpoints: ``NAME.pt`` (tensors only) plus ``NAME.json`` (model name, config, epoch, provenance).

A checkpoint rebuilds its model from the json alone, and loads with ``torch.load(weights_only=True)``
so a shared checkpoint cannot run code. The resumable training state (optimizer, scheduler, RNG) is
kept apart in ``last.pt``; ``best``, ``epoch_025`` ... hold the model weights only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hw2sep import __version__
from hw2sep.errors import Hw2sepError
from hw2sep.common.checkpoint_json import REPAIR, json_problem
from hw2sep.common.files import atomic_path, write_error, write_json
from hw2sep.models import MODELS, build_model, count_parameters
from hw2sep.models.architecture import architecture_rows


def save_checkpoint(path: str | Path, model: nn.Module, model_name: str, model_config: dict,
                    info: dict[str, Any], extra_state: dict[str, Any] | None = None) -> Path:
    """Write ``path``.pt (weights, plus ``extra_state`` if given) and ``path``.json, atomically."""
    path = Path(path).with_suffix("")
    state = {"model": model.state_dict(), **(extra_state or {})}
    with atomic_path(path.with_suffix(".pt")) as tmp:
        try:
            torch.save(state, tmp)
        except RuntimeError as err:  # torch's stream writer reports a full disk as a RuntimeError
            raise write_error(path.with_suffix(".pt"), err) from None
    meta = {"model": model_name, "config": model_config, "parameters": count_parameters(model),
            "architecture": architecture_rows(model), "package_version": __version__, **info}
    write_json(path.with_suffix(".json"), meta)
    return path.with_suffix(".pt")


def read_meta(path: str | Path) -> dict:
    """The json sidecar of a checkpoint (``.pt`` or ``.json`` path, or the name without suffix).

    The values other code reads (model, config, parameters, epoch, losses, train settings) are checked
    here, so a hand-edited or damaged json gives one line instead of a wrong number or a traceback.
    """
    json_path = Path(path).with_suffix(".json")
    if not json_path.exists():
        raise Hw2sepError(f"checkpoint {Path(path).with_suffix('.pt')} has no {json_path.name} beside it "
                          "(missing checkpoint, or not an hw2sep checkpoint)")
    try:
        meta = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Hw2sepError(f"{json_path} is not valid json ({err})") from None
    if not isinstance(meta, dict) or "model" not in meta or "config" not in meta:
        raise Hw2sepError(f"{json_path} lacks 'model'/'config': not an hw2sep checkpoint")
    problem = meta_problem(meta)
    if problem:
        raise Hw2sepError(f"{json_path} is damaged: {problem} ({REPAIR})")
    return meta


def meta_problem(meta: dict) -> str | None:
    """What is wrong with the values of a checkpoint json that readers use (``common.checkpoint_json``) or with
    its config's types against the model's config dataclass, or None."""
    problem = json_problem(meta)
    if problem:
        return problem
    kind = lambda value: f"{value!r}"[:40]  # noqa: E731
    entry = MODELS.get(meta["model"])
    for field in dataclasses.fields(entry.config_cls) if entry else ():
        value, default = meta["config"].get(field.name), field.default
        if value is None or isinstance(default, str):
            continue
        wanted = bool if isinstance(default, bool) else (int, float)
        if not isinstance(value, wanted) or (wanted != bool and isinstance(value, bool)):
            return f"config '{field.name}' is {kind(value)}, not a {'boolean' if wanted == bool else 'number'}"
    return None


def load_state(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """``torch.load`` with ``weights_only=True``, turning any failure into one clear line.

    A file holding pickled Python objects is refused (loading it could run code); torch's own advice
    to retry with ``weights_only=False`` and its terminal colour codes are not passed on.
    """
    pt = Path(path).with_suffix(".pt")
    if not pt.exists():
        raise Hw2sepError(f"checkpoint {pt} not found")
    try:
        return torch.load(pt, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        hostile = re.search(r"unsupported (?:global: )?GLOBAL ([\w.]+)", str(err), re.IGNORECASE)  # torch <2.6 / 2.13
        if hostile:
            raise Hw2sepError(f"refusing to load pickled Python objects ({hostile.group(1)}) from checkpoint {pt}: "
                              "loading those could run code; use a .pt written by hw2sep (tensors only)") from None
        found = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(err))
        reason = found.group(1).strip() if found else "not a tensor file"
        raise Hw2sepError(f"cannot read checkpoint {pt}: {reason} (a damaged or incomplete copy? "
                          "copy it again)") from None
    except Exception as err:
        raise Hw2sepError(f"cannot read checkpoint {pt}: {_plain_first_line(err)} "
                          "(a damaged or incomplete copy? copy it again)") from None


def _plain_first_line(err: BaseException) -> str:
    """The first sentence of an error, without ANSI escapes."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(err)).strip()
    return text.splitlines()[0].split(". ")[0].strip().rstrip(".") if text else type(err).__name__


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model named in the json sidecar, load its weights, return (model in eval mode, meta)."""
    meta = read_meta(path)
    return load_weights(build_model(meta["model"], meta["config"]), path, device, "checkpoint"), meta


def load_weights(module: nn.Module, path: str | Path, device: str | torch.device = "cpu",
                 what: str = "checkpoint") -> nn.Module:
    """``module`` with the weights of ``path``.pt (``weights_only``), in eval mode on ``device``; a file
    that does not fit the module built from its json is one line."""
    state = load_state(path, device)
    try:
        module.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as err:
        raise Hw2sepError(f"{what} {Path(path).with_suffix('.pt')} does not fit its config "
                          f"({str(err).splitlines()[0]})") from None
    return module.to(device).eval()


def checkpoint_digest(path: str | Path) -> str:
    """Short hash of a checkpoint's weights: cached results count only for the same bytes."""
    sha = hashlib.sha1()
    with open(Path(path).with_suffix(".pt"), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:12]
