"""Build the HW2 report (16:9 PDF) from result files and figures only: it never trains or separates.

Reads RESULTS/comparison.csv and per_track.csv (evaluation), RUN/log.csv and RUN/*.json (training),
SAMPLES/index.json (listening samples), EXPERIMENTS/<name>/table.csv (the optional tasks: model
comparison and ablations, ``hw2sep.report.optional``) and report_config.json (name, student ID, code link, novelty).
Slides follow the course template: cover, novelty, methodology, result and findings highlights,
details, analysis, references. A missing input turns into a note on its slide, never a crash or
an invented number; an optional result that is missing is one line on a "Missing results" slide. Figures are also written to FIGURES/ as PNG and PDF.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

from hw2sep.errors import Hw2sepError
from hw2sep.names import CHECKPOINT_EPOCHS, method_label
from hw2sep.report import optional, plots, text
from hw2sep.report.results import (DamagedResultError, best_epoch, epochs_to_show, phase_checkpoint, read_checkpoint_meta, read_comparison,
                            read_log, read_per_track)
from hw2sep.report.slides import BODY, PAGE, Deck, bullets, image, note, pipeline, table, wrap

DEFAULT_CONFIG = {
    "name": "YOUR NAME", "student_id": "YOUR STUDENT ID", "code_link": "https://YOUR-CLOUD-DRIVE-LINK",
    "course": "Music Information Retrieval, HW2", "title": "HW2: Vocals / accompaniment source separation",
    "subtitle": "Open-Unmix trained from scratch on MUSDB18; mixture phase vs Griffin-Lim",
    "epochs": list(CHECKPOINT_EPOCHS), "gl_checkpoint": None, "novelty": [], "references": [],
    "findings": [], "discussion": [],  # your own words: each list, when filled, gets its own slide
}
PLACEHOLDERS = ("YOUR NAME", "YOUR STUDENT ID", "YOUR-CLOUD-DRIVE-LINK")
SLIDES = ("cover", "Novelty highlight", "Methodology highlight", "Result highlight", "Findings highlight",
          "Details: model", "Details: training and augmentation", "Analysis: SDR vs epoch",
          "Analysis: mixture phase vs Griffin-Lim", "Analysis: per-track SDR",
          "Analysis: spectrograms and listening samples", "References")
OWN_SLIDES = {"findings": "Findings: own analysis", "discussion": "Discussion"}  # shown when the config fills them
APPENDIX = ("Appendix: SDR, SIR, ISR and SAR", "Appendix: per-track SDR")  # the per-track table may take pages
TRACKS_PER_COLUMN = 16
REPO = Path(__file__).resolve().parents[2]


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
    best: tuple[int, str] | None = None
    pngs: dict[str, Path] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)  # the subset of ``missing`` that exists but is damaged


def load_config(path: str | os.PathLike | None) -> dict:
    """report_config.json over the defaults; a missing file gives the placeholders (None: defaults)."""
    config = dict(DEFAULT_CONFIG)
    if path is not None and Path(path).exists():
        try:
            config.update(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as err:
            raise Hw2sepError(f"{path} is not valid json ({err})") from None
    return config


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


PathLike = str | os.PathLike


def gather(results: PathLike, run: PathLike, samples: PathLike, figures: PathLike, config: dict,
           epochs: Sequence[int] | None = None) -> Inputs:
    """Read every result file the report uses and draw its figures (saved to ``figures``)."""
    inputs = Inputs(Path(results), Path(run), Path(samples), Path(figures), config,
                    list(epochs or config.get("epochs") or DEFAULT_CONFIG["epochs"]))
    inputs.rows = _attempt(inputs, "comparison", lambda: read_comparison(results)) or []
    inputs.log = _attempt(inputs, "log", lambda: read_log(run))
    inputs.meta = _attempt(inputs, "meta", lambda: read_checkpoint_meta(run))
    inputs.epochs, inputs.epoch_note = epochs_to_show(inputs.rows, inputs.epochs)
    inputs.best = best_epoch(inputs.rows)
    inputs.gl_checkpoint = phase_checkpoint(inputs.rows, prefer=config.get("gl_checkpoint"))
    _figures(inputs)
    return inputs


def _figures(inputs: Inputs) -> None:
    """Draw and save each figure; a figure whose input is missing becomes a note instead."""
    gl = inputs.gl_checkpoint
    best_label = gl or (inputs.best[1] if inputs.best else None)
    makers = {
        "loss_curves": lambda: _resized(plots.plot_loss_curves(inputs.run, mark_epochs=inputs.epochs), 7.5, 5.6),
        "sdr_vs_epoch": lambda: plots.plot_sdr_vs_epoch(inputs.results, epochs=inputs.epochs),
        "phase_comparison": lambda: plots.plot_phase_comparison(
            inputs.results, _need(gl, inputs.damaged.get("comparison", "no Griffin-Lim result"))),
        "per_track_sdr": lambda: plots.plot_per_track_sdr(inputs.results, _need(best_label, "no evaluated checkpoint")),
        "architecture": lambda: _architecture(inputs.meta),
        "spectrograms": lambda: _spectrograms(inputs.samples, gl),
    }
    for name, make in makers.items():
        fig = _attempt(inputs, name, make)
        if fig is not None:
            inputs.pngs[name] = plots.save_figure(fig, inputs.figures, name)[0]


def _unless_damaged(inputs: Inputs, key: str, lines: Callable[[], list[str]]) -> list[str]:
    """Findings from an input, or one line saying it is damaged (never "no result yet" for a damaged file)."""
    return [f"Damaged input, not shown: {inputs.damaged[key]}"] if key in inputs.damaged else lines()


def _resized(fig, width: float, height: float):
    """The figure at another size (inches), e.g. to fill half a slide with readable fonts."""
    fig.set_size_inches(width, height)
    return fig


def _need(value, message: str):
    if value is None:
        raise Hw2sepError(message)
    return value


def _architecture(meta: dict | None):
    """The architecture table, rebuilt from the checkpoint json's model name and config (no weights)."""
    from hw2sep.models import build_model

    meta = _need(meta, "no checkpoint json")
    return plots.plot_architecture(build_model(meta["model"], meta["config"]))


def _spectrograms(samples: Path, prefer: str | None):
    """Mixture, reference vocals and vocals estimates of the first track in SAMPLES/index.json."""
    import soundfile as sf

    from hw2sep.evaluation.samples import read_index

    entries = read_index(samples)
    if not entries:
        raise Hw2sepError(f"no listening samples in {samples} (index.json)")
    track = entries[0]["track"]
    mine = [e for e in entries if e["track"] == track]
    picks = [e for e in mine if e["kind"] == "mixture" or (e["target"] == "vocals" and e["kind"] == "reference")]
    models = [e["model"] for e in mine if e["kind"] == "estimate"]
    model = prefer if prefer in models else (models[-1] if models else None)
    picks += [e for e in mine if e["kind"] == "estimate" and e["target"] == "vocals" and e["model"] == model][:2]
    names = {"mixture": "mixture", "reference": "reference vocals"}
    signals = {names.get(e["kind"], f"vocals: {e['model']}, {method_label(e['method'])}"):
               sf.read(str(samples / e["file"]), dtype="float32", always_2d=True)[0].T for e in picks}
    return plots.plot_spectrograms(signals, title=f"{track} (excerpt)")


def dataset_description(meta: dict | None) -> str:
    """What the model was trained on, from the npy manifest named in the checkpoint json."""
    from hw2sep.data.npy_cache import load_manifest

    npy_root = (meta or {}).get("train", {}).get("npy_root")
    try:
        manifest = load_manifest(npy_root) if npy_root else None
    except Hw2sepError:
        manifest = None
    if not manifest:
        return "training data: unknown (npy cache not found here)"
    counts = {}
    for track in manifest["tracks"]:
        counts[track["subset"]] = counts.get(track["subset"], 0) + 1
    toy = (Path(manifest["source_root"]) / "toy_musdb.json").exists()
    name = "TOY MUSDB (synthetic smoke-test data, not MUSDB18)" if toy else Path(manifest["source_root"]).name
    return f"training data: {name}; " + ", ".join(f"{n} {s}" for s, n in counts.items()) + " tracks"


def public(text: str) -> str:
    """`text` without this machine's absolute paths: repository paths become relative, others keep
    their last two parts ("…/results/comparison.csv"), so no slide shows the student's folders."""
    import re

    text = str(text).replace(str(REPO) + os.sep, "")
    return re.sub(r"(?<![\w.:/])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:]+[/\\])+([^\s/\\:]+[/\\][^\s/\\:]+)", r"…/\1", text)


# ---------------------------------------------------------------- slides
def _figure_or_note(fig, inputs: Inputs, name: str, rect=BODY) -> None:
    if name in inputs.pngs:
        image(fig, inputs.pngs[name], rect)
    else:
        note(fig, public(f"{name.replace('_', ' ')}: {inputs.missing.get(name, 'not available')}"), rect)


def _cover(deck: Deck, inputs: Inputs) -> None:
    c = inputs.config
    fig = deck.slide("")
    fig.text(0.5, 0.70, wrap(c["title"], 11, 34), fontsize=34, fontweight="bold", ha="center", va="center",
             color="#30638e")
    fig.text(0.5, 0.55, wrap(c["subtitle"], 11, 20), fontsize=20, ha="center", va="center", color="#444")
    fig.text(0.5, 0.42, f"{c['name']}   ·   {c['student_id']}", fontsize=24, ha="center")
    fig.text(0.5, 0.34, f"code and model: {c['code_link']}", fontsize=18, ha="center", color="#30638e")
    fig.text(0.5, 0.27, f"{c['course']}   ·   {date.today().isoformat()}", fontsize=16, ha="center", color="#666")
    data = dataset_description(inputs.meta)
    if "TOY" in data:
        fig.text(0.5, 0.15, "SMOKE RUN on toy data: these are not MUSDB18 results", fontsize=18, ha="center",
                 color="white", fontweight="bold", bbox={"facecolor": "#d1495b", "edgecolor": "none", "pad": 8})


def _novelty(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide("Novelty highlight", "what is special about this work")
    items = inputs.config.get("novelty") or []
    if items:
        bullets(fig, items)
    else:
        note(fig, "no novelty points in report_config.json ('novelty': [...])")


def _methodology(deck: Deck, inputs: Inputs) -> None:
    meta, rows = inputs.meta or {}, inputs.rows
    fig = deck.slide("Methodology highlight", "how the results were made")
    params = f"{meta['parameters']:,} parameters" if meta.get("parameters") else "parameters: missing"
    tracks = max((r["tracks"] for r in rows), default=0)
    kept = ", ".join(map(str, meta.get("train", {}).get("checkpoint_epochs", [])))
    pipeline(fig, ["MUSDB18 stems → vocals, accompaniment", "npy cache (int16, memory-mapped)",
                   f"Open-Unmix vocals model ({params})", "train from scratch: MSE on |STFT|",
                   "vocals mask; accompaniment = residual", "phase: mixture or Griffin-Lim",
                   f"SDR: BSS Eval v4, median of medians ({tracks or '?'} test tracks)"], y=0.64)
    items = [dataset_description(inputs.meta),
             "One network estimates the vocals magnitude; accompaniment = max(|mixture| − vocals, 0), so both "
             "targets fit the 10 M parameter bound.",
             f"Checkpoints kept at epochs {kept or '(missing: no checkpoint json)'} and evaluated on the test set "
             "only after training.",
             "Griffin-Lim: torch implementation of librosa.griffinlim's algorithm (fast GL with momentum), "
             "applied to the best checkpoint's magnitudes instead of the mixture phase.",
             f"SDR metric: {_metric(inputs)}"]
    bullets(fig, items, (0.05, 0.08, 0.90, 0.50), fontsize=17)


def _metric(inputs: Inputs) -> str:
    """Which scorer produced the results (summary.json 'metric')."""
    found = {json.loads(p.read_text()).get("metric") for p in inputs.results.glob("*/*/summary.json")}
    names = {"museval": "museval BSS Eval v4 (1 s windows)",
             "fast": "hw2sep's fast BSS Eval v4 (1 s windows; museval-equivalent)"}
    return ", ".join(names.get(m, str(m)) for m in sorted(found, key=str)) or "missing (no summary.json)"


def _results(deck: Deck, inputs: Inputs) -> None:
    rows = inputs.rows
    fig = deck.slide("Result highlight", "test-set SDR in dB: median over tracks of the per-track median over 1 s windows")
    if not rows:
        damaged = inputs.damaged.get("comparison")
        note(fig, public(f"results damaged: {damaged}" if damaged else f"no results yet: {inputs.missing.get('comparison')}"))
        return
    header, cells, notes = text.sdr_table(rows, inputs.epochs, inputs.results)
    low = table(fig, header, cells, 0.05, 0.70, 0.42, 16, (0.30, 0.35, 0.35),
                title=f"Task 1: SDR per epoch\nmixture phase, {text.track_count_label(rows)}")
    gl = inputs.gl_checkpoint
    if gl:
        header, cells = text.phase_table(rows, gl)
        cells = [[wrap(c[0], 2.0, 15), *c[1:]] for c in cells]
        low = min(low, table(fig, header, cells, 0.52, 0.70, 0.43, 15, (0.32, 0.34, 0.34),
                             title=f"Task 2: phase reconstruction at {text.checkpoint_label(rows, gl)}\n"
                                   "(Δ: difference to the mixture phase)"))
    else:
        notes.append(f"no Griffin-Lim result in {inputs.results / 'comparison.csv'} yet")
    if inputs.epoch_note:
        notes.insert(0, inputs.epoch_note)
    for i, line in enumerate(notes):
        fig.text(0.05, min(low - 0.06, 0.20) - 0.035 * i, public(f"note: {line}"), fontsize=14, color="#a33",
                 style="italic")


def _findings(deck: Deck, inputs: Inputs) -> None:
    rows = inputs.rows
    fig = deck.slide("Findings highlight", "generated from the result files")
    items = _unless_damaged(inputs, "comparison", lambda: text.epoch_findings(rows, inputs.epochs)
                            + text.phase_findings(rows, inputs.gl_checkpoint))
    items += _unless_damaged(inputs, "log", lambda: text.loss_findings(inputs.log))
    if inputs.meta and inputs.meta.get("parameters"):
        n = inputs.meta["parameters"]
        items.append(f"The model has {n:,} trainable parameters ({'within' if n < 10_000_000 else 'ABOVE'} the 10 M limit).")
    bullets(fig, items, fontsize=17, gap=0.45)


def _model(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide("Details: model", "Open-Unmix (Stöter et al., 2019), re-implemented and trained from scratch")
    _figure_or_note(fig, inputs, "architecture", (0.03, 0.08, 0.60, 0.74))
    bullets(fig, ["Input: magnitude STFT of the stereo mixture, cropped to the bandwidth and standardised per bin.",
                  "fc + batch norm + tanh → BLSTM with skip connection → 2 × (fc + batch norm).",
                  "Output: a ReLU mask times the mixture magnitude (vocals).",
                  "Accompaniment = residual of the mixture magnitude."],
            (0.65, 0.08, 0.31, 0.72), fontsize=15)


def _training(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide("Details: training and augmentation", "settings from the checkpoint json; loss from log.csv")
    if inputs.meta:
        settings = [[k, wrap(v, 0.45 * 0.78 * PAGE[0] * 0.95, 12)] for k, v in text.settings_rows(inputs.meta)]
        table(fig, ["setting", "value"], settings, 0.03, 0.80, 0.45, 12, (0.22, 0.78))
    else:
        note(fig, public(f"no checkpoint json: {inputs.missing.get('meta')}"), (0.03, 0.10, 0.45, 0.70))
    _figure_or_note(fig, inputs, "loss_curves", (0.50, 0.18, 0.48, 0.62))
    fig.text(0.50, 0.15, wrap(text.loss_findings(inputs.log)[0], 0.46 * PAGE[0], 13), fontsize=13, va="top")


def _analysis(deck: Deck, inputs: Inputs, title: str, name: str, lines: list[str]) -> None:
    fig = deck.slide(title)
    _figure_or_note(fig, inputs, name, (0.05, 0.29, 0.90, 0.55))
    bullets(fig, lines or [""], (0.05, 0.06, 0.90, 0.22), fontsize=15, gap=0.25)


def _per_track_lines(inputs: Inputs) -> list[str]:
    label = inputs.gl_checkpoint or (inputs.best[1] if inputs.best else None)
    if label is None:
        return []
    per_track = read_per_track(inputs.results, label, "mixture") if "per_track_sdr" in inputs.pngs else []
    return text.track_findings(per_track, text.checkpoint_label(inputs.rows, label))


def _spectro(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide("Analysis: spectrograms and listening samples")
    _figure_or_note(fig, inputs, "spectrograms", (0.05, 0.22, 0.90, 0.62))
    index = inputs.samples / "index.md"
    where = f"{inputs.samples.name}/index.md" + (f" at {inputs.config['code_link']}" if inputs.config.get("code_link") else "")
    line = (f"Listening samples: {where} (mixture, references and estimates of the loudest 10 s per track)"
            if index.exists() else f"no listening samples in {inputs.samples.name}/ yet")
    bullets(fig, [public(line)], (0.05, 0.06, 0.90, 0.14), fontsize=15)


def _own(deck: Deck, inputs: Inputs, key: str) -> None:
    """The student's own findings or discussion (report_config.json), on a slide of their own when filled."""
    items = [str(i) for i in inputs.config.get(key) or [] if str(i).strip()]
    if items:
        fig = deck.slide(OWN_SLIDES[key], "in my own words (report_config.json)")
        bullets(fig, items, fontsize=17, gap=0.45)


def _bss_appendix(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide(APPENDIX[0], "median of per-track medians; SIR: interference, SAR: artifacts, ISR: spatial image")
    label = inputs.gl_checkpoint or (inputs.best[1] if inputs.best else None)
    if label is None:
        note(fig, "no evaluated checkpoint in comparison.csv yet")
        return
    header, cells = text.bss_table(inputs.rows, label)
    table(fig, header, cells, 0.05, 0.76, 0.90, 14, (0.34, 0.18, 0.12, 0.12, 0.12, 0.12),
          title=f"{text.checkpoint_label(inputs.rows, label)}, {text.track_count_label(inputs.rows)}"
                + ("; ISR 'missing': mir_eval's BSS Eval v3 has none" if "mir_eval" in _metric(inputs) else ""))


def _per_track_appendix(deck: Deck, inputs: Inputs) -> None:
    """Every track's SDR, two tables of TRACKS_PER_COLUMN rows per page, as many pages as needed."""
    label = inputs.gl_checkpoint or (inputs.best[1] if inputs.best else None)
    per_track = _attempt(inputs, "per_track", lambda: read_per_track(inputs.results, label, "mixture")) if label else None
    if not per_track:
        note(deck.slide(APPENDIX[1]), "no per-track results yet")
        return
    header, cells = text.per_track_table(per_track)
    page = 2 * TRACKS_PER_COLUMN
    for first in range(0, len(cells), page):
        fig = deck.slide(APPENDIX[1], f"{text.checkpoint_label(inputs.rows, label)}, mixture phase, tracks "
                                      f"{first + 1}-{min(first + page, len(cells))} of {len(cells)} (best vocals first)")
        for column in range(2):
            part = cells[first + column * TRACKS_PER_COLUMN: first + (column + 1) * TRACKS_PER_COLUMN]
            if part:
                table(fig, header, part, 0.04 + 0.47 * column, 0.80, 0.45, 10, (0.58, 0.21, 0.21))


def _references(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide("References")
    bullets(fig, [
        "F.-R. Stöter, S. Uhlich, A. Liutkus, Y. Mitsufuji: Open-Unmix – A Reference Implementation for Music "
        "Source Separation. JOSS 4(41), 1667, 2019 (model and training recipe; github.com/sigsep/open-unmix-pytorch).",
        "Z. Rafii, A. Liutkus, F.-R. Stöter, S. I. Mimilakis, R. Bittner: The MUSDB18 corpus for music separation, 2017.",
        "D. Griffin, J. Lim: Signal estimation from modified short-time Fourier transform. IEEE TASSP 32(2), 1984; "
        "N. Perraudin, P. Balazs, P. Søndergaard: A fast Griffin-Lim algorithm, WASPAA 2013 (librosa.griffinlim).",
        "F.-R. Stöter, A. Liutkus, N. Ito: The 2018 Signal Separation Evaluation Campaign (BSS Eval v4, museval).",
        "S. Uhlich et al.: Improving music source separation based on deep neural networks through data "
        "augmentation and network blending, ICASSP 2017.", *inputs.config.get("references", [])], fontsize=15)


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
                                  lambda: text.phase_findings(inputs.rows, inputs.gl_checkpoint)[:3]))
        found = optional.gather(experiments)
        optional.phase_slide(deck, inputs.rows, inputs.gl_checkpoint, found)
        _analysis(deck, inputs, "Analysis: per-track SDR", "per_track_sdr", _per_track_lines(inputs))
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
