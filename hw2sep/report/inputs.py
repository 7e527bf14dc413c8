"""What the report shows, read once from the result files: ``gather`` fills an ``Inputs`` (rows, log, checkpoint json,
the selected checkpoint, the figures' draw functions), and records a note for every input that is missing or damaged.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from hw2sep.dsp.methods import method_label
from hw2sep.errors import Hw2sepError
from hw2sep.names import CHECKPOINT_EPOCHS
from hw2sep.report import plots
from hw2sep.report.results import (DEFAULT_SELECTION, DamagedResultError, epochs_to_show, phase_checkpoint,
                                   read_checkpoint_meta, read_comparison, read_index, read_log, read_selection)

PathLike = str | os.PathLike
DEFAULT_EPOCHS = list(CHECKPOINT_EPOCHS)  # the assignment's checkpoints, unless report_config.json or --epochs say so
REPORT_EXTREMES = 8  # the per-track figure shows the worst and best 8 tracks: 9 pt names at its size on the slide


@dataclass
class Inputs:
    """Everything the slides show, read once; ``missing`` holds one note per input that is absent."""

    results: Path
    run: Path
    samples: Path
    figures: Path
    config: dict
    epochs: list[int]
    epoch_note: str | None = None
    rows: list[dict] = field(default_factory=list)
    log: list[dict] | None = None
    meta: dict | None = None
    gl_checkpoint: str | None = None
    best: tuple[int | None, str] | None = None  # (epoch, label) of the selected checkpoint (RESULTS/selection.json)
    selection: dict = field(default_factory=dict)  # {"checkpoint", "select", "how"}: how it was chosen
    drawn: dict[str, Callable] = field(default_factory=dict)  # figure name -> draw(fig) into a slide panel
    missing: dict[str, str] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)  # the subset of ``missing`` that exists but is damaged


def _attempt(inputs: Inputs, key: str, read: Callable[[], object]) -> object:
    """Run a reader; on Hw2sepError record its message under ``missing[key]`` and return None.

    A damaged file (cut off mid-row, a non-numeric cell) is also printed as a ``warning:`` line, and
    the slides say it is damaged rather than that its results do not exist yet.
    """
    try:
        return read()
    except DamagedResultError as err:
        if str(err) not in inputs.damaged.values():  # several figures read the same file: warn once
            print(f"warning: {err}", file=sys.stderr)
        inputs.missing[key] = inputs.damaged[key] = str(err)
        return None
    except Hw2sepError as err:
        inputs.missing[key] = str(err)
        return None




def gather(results: PathLike, run: PathLike, samples: PathLike, figures: PathLike, config: dict,
           epochs: Sequence[int] | None = None) -> Inputs:
    """Read every result file the report uses and draw its figures (saved to ``figures``)."""
    inputs = Inputs(Path(results), Path(run), Path(samples), Path(figures), config,
                    list(epochs or config.get("epochs") or DEFAULT_EPOCHS))
    inputs.rows = _attempt(inputs, "comparison", lambda: read_comparison(results)) or []
    inputs.log = _attempt(inputs, "log", lambda: read_log(run))
    inputs.meta = _attempt(inputs, "meta", lambda: read_checkpoint_meta(run))
    inputs.epochs, inputs.epoch_note = epochs_to_show(inputs.rows, inputs.epochs)
    inputs.selection = _attempt(inputs, "selection", lambda: read_selection(results)) or dict(DEFAULT_SELECTION)
    chosen = inputs.selection["checkpoint"]
    epochs = [r.get("epoch") for r in inputs.rows if r["checkpoint"] == chosen]
    inputs.best = (epochs[0], chosen) if epochs else None
    inputs.gl_checkpoint = phase_checkpoint(inputs.rows, prefer=config.get("gl_checkpoint") or chosen)
    _figures(inputs)
    return inputs


def _figures(inputs: Inputs) -> None:
    """Draw and save each figure; a figure whose input is missing becomes a note instead."""
    gl = inputs.gl_checkpoint
    best_label = gl or (inputs.best[1] if inputs.best else None)
    signals: dict = {}
    makers = {
        "loss_curves": lambda fig=None: plots.plot_loss_curves(inputs.run, mark_epochs=inputs.epochs, fig=fig),
        "sdr_vs_epoch": lambda fig=None: plots.plot_sdr_vs_epoch(inputs.results, epochs=inputs.epochs, fig=fig),
        "phase_comparison": lambda fig=None: plots.plot_phase_comparison(
            inputs.results, _need(gl, inputs.damaged.get("comparison", "no Griffin-Lim result")), fig=fig),
        "per_track_sdr": lambda fig=None: plots.plot_per_track_sdr(
            inputs.results, _need(best_label, "no evaluated checkpoint"), extremes=REPORT_EXTREMES, fig=fig),
        "architecture": lambda fig=None: _architecture(inputs.meta, fig),
        "spectrograms": lambda fig=None: _spectrograms(signals, inputs.samples, gl, fig),
    }
    for name, make in makers.items():
        fig = _attempt(inputs, name, make)
        if fig is not None:
            plots.save_figure(fig, inputs.figures, name)
            inputs.drawn[name] = make


def _unless_damaged(inputs: Inputs, key: str, lines: Callable[[], list[str]]) -> list[str]:
    """Findings from an input, or one line saying it is damaged (never "no result yet" for a damaged file)."""
    return [f"Damaged input, not shown: {inputs.damaged[key]}"] if key in inputs.damaged else lines()


def _need(value, message: str):
    if value is None:
        raise Hw2sepError(message)
    return value


def _architecture(meta: dict | None, fig=None):
    """The architecture table, from the layer rows the checkpoint json carries."""
    return plots.plot_architecture(_need(meta, "no checkpoint json"), fig=fig)


SPECTROGRAM_METHODS = ("mixture", "griffinlim")  # Task 2: the mixture phase beside Griffin-Lim (random init)


def _spectrogram_signals(samples: Path, prefer: str | None) -> dict:
    """{panel title: audio} of the first track in SAMPLES/index.json, and "_title": the track.

    The panels: mixture, reference vocals, then the vocals estimated with the mixture phase and
    with Griffin-Lim (``SPECTROGRAM_METHODS``; another method stands in for a missing one), of one model.
    """
    import soundfile as sf

    entries = read_index(samples)
    if not entries:
        raise Hw2sepError(f"no listening samples in {samples} (index.json)")
    track = entries[0]["track"]
    mine = [e for e in entries if e["track"] == track]
    picks = [e for e in mine if e["kind"] == "mixture" or (e["target"] == "vocals" and e["kind"] == "reference")]
    models = [e["model"] for e in mine if e["kind"] == "estimate"]
    model = prefer if prefer in models else (models[-1] if models else None)
    estimates = {e["method"]: e for e in mine
                 if e["kind"] == "estimate" and e["target"] == "vocals" and e["model"] == model}
    chosen = [m for m in SPECTROGRAM_METHODS if m in estimates]
    chosen += [m for m in estimates if m not in chosen][:len(SPECTROGRAM_METHODS) - len(chosen)]
    picks += [estimates[m] for m in chosen]
    names = {"mixture": "mixture", "reference": "reference vocals"}
    signals = {names.get(e["kind"], f"vocals: {e['model']}, {method_label(e['method'])}"):
               sf.read(str(samples / e["file"]), dtype="float32", always_2d=True)[0].T for e in picks}
    return {**signals, "_title": f"{track} (excerpt)"}


def _spectrograms(cache: dict, samples: Path, prefer: str | None, fig=None):
    """The spectrogram figure; the wav files are read once into `cache` (the figure is drawn twice)."""
    if not cache:
        cache.update(_spectrogram_signals(samples, prefer))
    signals = {k: v for k, v in cache.items() if k != "_title"}
    return plots.plot_spectrograms(signals, title=cache["_title"], fig=fig)


