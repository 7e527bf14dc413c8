"""The one training loop, used by the separator (periods of one epoch) and the vocoder (of ``checkpoint_every`` steps).

It owns what the two trainers share: refusing a folder that holds a run, resume from ``last.pt``
(refusing another model config or a file without training state), the RNG state, atomic checkpoints
with their json, log.csv, the progress bar, and the DDP rule that rank 0 alone writes and prints.
A trainer supplies only how to train one period, how to validate, and what to save (``Trainer``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from hw2sep.common.progress import progress as progress_bar
from hw2sep.errors import Hw2sepError
from hw2sep.common.files import write_csv
from hw2sep.models.checkpoint import load_state, read_meta
from hw2sep.names import epoch_label
from hw2sep.training import distributed

RUN_FILES = ("last.pt", "best.pt", "log.csv")  # a folder holding one of these holds a run


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of the data order of an epoch (or vocoder pass), from the run's seed: the one rule."""
    return seed * 100_003 + epoch


class Trainer:
    """What a trainer gives the loop. ``unit`` names the counter ("epoch" or "step") in log.csv and the json."""

    unit = "epoch"
    log_fields: tuple[str, ...] = ()
    model: nn.Module            # the module that is saved (under DDP, the unwrapped one)
    keep: tuple[int, ...] = ()  # counter values whose checkpoint is kept as epoch_NNN
    announce = False            # print a line per period (the separator's epochs; the vocoder has its bar)

    def stateful(self) -> dict[str, Any]:
        """Objects with ``state_dict``/``load_state_dict`` (optimizers, schedulers, ...) saved in last.pt."""
        raise NotImplementedError

    def periods(self, done: int) -> Iterator[int]:
        """The counter at the end of each period still to train, after ``done``."""
        raise NotImplementedError

    def start(self, done: int) -> None:
        """Called once after resume, before the first period (``done`` = counter reached so far)."""

    def train_period(self, end: int) -> float:
        """Train up to counter ``end``; return the mean training loss."""
        raise NotImplementedError

    def validate(self, train_loss: float) -> float:
        """The validation loss after a period (every rank gets the same number)."""
        raise NotImplementedError

    def log_columns(self, seconds: float) -> dict:
        """The period's lr and timing columns of log.csv."""
        raise NotImplementedError

    def save(self, path: Path, tag: dict, extra_state: dict | None = None) -> None:
        """Write ``path``.pt/.json (model weights, plus ``extra_state`` for last.pt)."""
        raise NotImplementedError

    def identity(self) -> dict:
        """The model config that a resumed run must share with last.json's ``config``."""
        raise NotImplementedError


def check_new_run(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to train into a folder that holds a run unless resuming; ``overwrite`` removes the old run's files."""
    held = [name for name in RUN_FILES if (out / name).exists()]
    if not held or resume:
        return
    if not overwrite:
        raise Hw2sepError(f"{out} already holds a training run ({', '.join(held)}): give --resume to continue it, "
                          "--overwrite to replace it, or another --out")
    for pattern in ("last.*", "best.*", "log.csv", "epoch_*.pt", "epoch_*.json") if distributed.rank() == 0 else ():
        for path in out.glob(pattern):  # DDP: rank 0 alone removes, as it alone writes
            path.unlink(missing_ok=True)


def run(trainer: Trainer, out: Path, info: dict, resume: bool = False, overwrite: bool = False,
        progress: bool = True) -> list[dict]:
    """Train ``trainer`` into ``out`` (resuming from last.pt when asked) and return the log rows."""
    main_process = distributed.rank() == 0  # DDP: only rank 0 validates, writes files and prints
    progress = progress and main_process
    check_new_run(out, resume, overwrite)
    state = {trainer.unit: 0, "history": [], "best_loss": float("inf"), "train_seconds": 0.0}
    if resume and (out / "last.pt").exists():
        state = restore(out / "last", trainer)
    elif resume and main_process:
        print(f"--resume: no {out / 'last.pt'} yet, starting from scratch")
    trainer.start(state[trainer.unit])
    for end in trainer.periods(state[trainer.unit]):
        started = time.time()
        train_loss = trainer.train_period(end)
        valid_loss = trainer.validate(train_loss)
        seconds = time.time() - started
        state["train_seconds"] += seconds
        state["history"].append({trainer.unit: end, "train_loss": train_loss, "valid_loss": valid_loss,
                                 **trainer.log_columns(seconds)})
        state[trainer.unit] = end
        tag = {trainer.unit: end, "valid_loss": valid_loss, "train_seconds": round(state["train_seconds"], 3), **info}
        best = valid_loss < state["best_loss"]
        if best:
            state["best_loss"] = valid_loss
        if not main_process:  # DDP: only rank 0 writes files
            continue
        if best:
            trainer.save(out / "best", tag)
        if end in trainer.keep:
            trainer.save(out / epoch_label(end), tag)
        trainer.save(out / "last", tag, extra_state=training_state(state, trainer))
        write_csv(out / "log.csv", state["history"], (trainer.unit, *trainer.log_fields))
        if progress and trainer.announce:
            print(f"{trainer.unit} {end}: train {train_loss:.5f} valid {valid_loss:.5f} ({seconds:.1f} s)")
    return state["history"]


def training_state(state: dict, trainer: Trainer) -> dict:
    """What last.pt holds beside the weights: every stateful object, the RNG streams and the loop state."""
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {**{name: obj.state_dict() for name, obj in trainer.stateful().items()}, "rng": rng, "state": state}


def restore(path: Path, trainer: Trainer) -> dict:
    """Load last.pt into the trainer's objects and the RNG; return the loop state. Mismatches are one line."""
    meta = read_meta(path)
    saved_config, wanted = meta.get("config"), json.loads(json.dumps(trainer.identity()))
    if saved_config != wanted:
        changed = sorted(k for k in set(saved_config) | set(wanted) if saved_config.get(k) != wanted.get(k))
        raise Hw2sepError(f"cannot resume {path}.pt: it was trained with another model config ("
                          + ", ".join(f"{k} {saved_config.get(k)!r}, now {wanted.get(k)!r}" for k in changed)
                          + "); give the same settings, or another --out")
    saved = load_state(path, "cpu")
    missing = [name for name in ("state", "rng", *trainer.stateful()) if name not in saved]
    if missing:
        raise Hw2sepError(f"cannot resume from {path}.pt: it holds model weights but no training state "
                          f"(no {', '.join(missing)}; a best.pt or epoch_NNN.pt copied over it?); "
                          "restore the run's own last.pt, or train into another --out")
    try:
        trainer.model.load_state_dict(saved["model"])
        for name, obj in trainer.stateful().items():
            obj.load_state_dict(saved[name])
    except (RuntimeError, ValueError, KeyError) as err:
        raise Hw2sepError(f"cannot resume from {path}.pt with this configuration ({str(err).splitlines()[0]}); "
                          f"it was written with {meta.get('train', {}).get('model_options', meta['config'])}") from None
    rng = saved["rng"] if isinstance(saved["rng"], dict) else {"cpu": saved["rng"]}  # older vocoder runs: cpu only
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return saved["state"]


def bar(total: int, start: int, progress: bool, unit: str):
    """The one progress bar of a training session (counted by hand)."""
    return progress_bar(None, progress, total=total, initial=start, unit=unit, leave=False)
