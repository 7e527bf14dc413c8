"""Build the HW2 report (16:9 PDF) from result files and figures only: it never trains or separates.

Reads RESULTS/comparison.csv and per_track.csv (evaluation), RUN/log.csv and RUN/*.json (training),
SAMPLES/index.json (listening samples), EXPERIMENTS/<name>/table.csv (the optional tasks: model
comparison and ablations, ``hw2sep.report.optional``) and report_config.json (name, student ID, code link, novelty).
Slides follow the course template: cover, novelty, methodology, result and findings highlights,
details, analysis, references. A missing input turns into a note on its slide, never a crash or
an invented number; an optional result that is missing is one line on a "Missing results" slide.
Figures are drawn into their slides as vectors, and also written to FIGURES/ as PNG and PDF; a
table longer than its slide continues on the next one, titled "(cont.)".
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from hw2sep.errors import Hw2sepError
from hw2sep.report import optional, text
from hw2sep.report.slides import Deck
from hw2sep.report.text import public
from hw2sep.report.inputs import DEFAULT_EPOCHS, PathLike, _unless_damaged, gather
from hw2sep.report.pages import (APPENDIX, OWN_SLIDES, SLIDES, _analysis, _bss_appendix, _cover, _findings, _methodology, _model,  # noqa: F401
                                 _novelty, _own, _per_track_appendix, _per_track_lines, _references, _results,
                                 _spectro, _training)

DEFAULT_CONFIG = {
    "name": "YOUR NAME", "student_id": "YOUR STUDENT ID", "code_link": "https://YOUR-CLOUD-DRIVE-LINK",
    "course": "Music Information Retrieval, HW2", "title": "HW2: Vocals / accompaniment source separation",
    "subtitle": "Open-Unmix trained from scratch on MUSDB18; mixture phase vs Griffin-Lim",
    "epochs": DEFAULT_EPOCHS, "gl_checkpoint": None, "novelty": [], "references": [],
    "findings": [], "discussion": [],  # your own words: each list, when filled, gets its own slide
}
PLACEHOLDERS = ("YOUR NAME", "YOUR STUDENT ID", "YOUR-CLOUD-DRIVE-LINK")


def load_config(path: str | os.PathLike | None) -> dict:
    """report_config.json over the defaults; a missing file gives the placeholders (None: defaults)."""
    config = dict(DEFAULT_CONFIG)
    if path is not None and Path(path).exists():
        try:
            config.update(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as err:
            raise Hw2sepError(f"{path} is not valid json ({err})") from None
    return config


def build_report(results: PathLike, run: PathLike, samples: PathLike, out: PathLike, config: dict | None = None,
                 figures: PathLike | None = None, epochs: Sequence[int] | None = None,
                 titles: list[str] | None = None, experiments: PathLike | None = None) -> Path:
    """Write the report PDF to ``out`` (figures to ``figures``, default OUT's folder/figures); returns ``out``.

    The template slides (`SLIDES`) come in order, with the student's own findings / discussion slides
    when report_config.json fills them, the phase-methods slide (SDR and LSD, vocoders included)
    after the Griffin-Lim one, and after the listening samples one slide per experiment table found
    in ``experiments`` (model comparison, ablations) and a "Missing results" slide listing what is
    not there; then the appendix. ``titles``, if given, receives every page's title in order.
    """
    out = Path(out)
    config = config or load_config(None)
    inputs = gather(results, run, samples, figures or out.parent / "figures", config, epochs)
    footer = f"{config['name']} · {config['student_id']} · HW2 source separation"
    with Deck(out, footer, {"Title": config["title"], "Author": config["name"]}) as deck:
        _cover(deck, inputs)
        _novelty(deck, inputs)
        _methodology(deck, inputs)
        _results(deck, inputs)
        _findings(deck, inputs)
        _own(deck, inputs, "findings")
        _model(deck, inputs)
        _training(deck, inputs)
        _analysis(deck, inputs, "Analysis: SDR vs epoch", "sdr_vs_epoch",
                  _unless_damaged(inputs, "comparison", lambda: text.epoch_findings(inputs.rows, inputs.epochs)[:3]))
        _analysis(deck, inputs, "Analysis: mixture phase vs Griffin-Lim", "phase_comparison",
                  _unless_damaged(inputs, "comparison",
                                  lambda: text.phase_findings(inputs.rows, inputs.gl_checkpoint)[:3]), selected=True)
        found = optional.gather(experiments)
        optional.phase_slide(deck, inputs.rows, inputs.gl_checkpoint, found)
        _analysis(deck, inputs, "Analysis: per-track SDR", "per_track_sdr", _per_track_lines(inputs), selected=True)
        _spectro(deck, inputs)
        optional.experiment_slides(deck, found, public)
        optional.missing_slide(deck, found, public)
        _own(deck, inputs, "discussion")
        _references(deck, inputs)
        _bss_appendix(deck, inputs)
        _per_track_appendix(deck, inputs)
        if titles is not None:
            titles[:] = deck.titles
    return out


def placeholders_left(config: dict) -> list[str]:
    """Config keys that still hold a placeholder ("YOUR NAME", ...)."""
    return [k for k, v in config.items() if isinstance(v, str) and any(p in v for p in PLACEHOLDERS)]
