"""The report's slides, one function per slide of the course template, each drawing from ``Inputs`` only."""

from __future__ import annotations

import json
from datetime import date

from hw2sep.dsp.methods import method_label
from hw2sep.names import metric_label
from hw2sep.report import text
from hw2sep.report.results import methods_of, read_per_track
from hw2sep.report.slides import (BODY, CONT, PAGE, Deck, bullet_slides, bullets, note, panel, pipeline, split_rows,
                                  table, wrap)
from hw2sep.report.text import dataset_description, public
from hw2sep.report.inputs import Inputs, _attempt, _unless_damaged

SLIDES = ("cover", "Novelty highlight", "Methodology highlight", "Result highlight", "Findings highlight",
          "Details: model", "Details: training and augmentation", "Analysis: SDR vs epoch",
          "Analysis: mixture phase vs Griffin-Lim", "Analysis: per-track SDR",
          "Analysis: spectrograms and listening samples", "References")
OWN_SLIDES = {"findings": "Findings: own analysis", "discussion": "Discussion"}  # shown when the config fills them
APPENDIX = ("Appendix: SDR, SIR, ISR and SAR", "Appendix: per-track SDR")  # the per-track table may take pages


def _figure_or_note(fig, inputs: Inputs, name: str, rect=BODY) -> None:
    """The figure drawn into `rect` of the slide (vectors), or a note saying why it is missing."""
    if name in inputs.drawn:
        inputs.drawn[name](panel(fig, rect))
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
    items = inputs.config.get("novelty") or []
    if items:
        bullet_slides(deck, "Novelty highlight", "what is special about this work", items)
    else:
        note(deck.slide("Novelty highlight", "what is special about this work"),
             "no novelty points in report_config.json ('novelty': [...])")


def _methodology(deck: Deck, inputs: Inputs) -> None:
    meta, rows = inputs.meta or {}, inputs.rows
    fig = deck.slide("Methodology highlight", "how the results were made")
    params = f"{meta['parameters']:,} parameters" if meta.get("parameters") else "parameters: missing"
    tracks = max((r["tracks"] for r in rows), default=0)
    kept = ", ".join(map(str, meta.get("train", {}).get("checkpoint_epochs", [])))
    model = meta.get("model", "model: missing")
    mask = "vocals mask" if meta.get("config", {}).get("mask", True) else "vocals magnitude (no mask)"
    methods = methods_of(rows, inputs.gl_checkpoint) if inputs.gl_checkpoint else ["mixture"]
    phase = ", ".join(method_label(m) for m in methods[:2]) + (f" + {len(methods) - 2} more" * (len(methods) > 2))
    pipeline(fig, ["MUSDB18 stems → vocals, accompaniment", "npy cache (int16, memory-mapped)",
                   f"{model} vocals model ({params})", f"train from scratch: loss {meta.get('loss') or 'missing'}",
                   f"{mask}; accompaniment = residual", f"phase: {phase}",
                   f"SDR: {_metric(inputs)}, median of medians ({tracks or '?'} test tracks)"], y=0.64)
    gl = text.checkpoint_label(rows, inputs.gl_checkpoint) if inputs.gl_checkpoint else "(no Griffin-Lim result yet)"
    items = [dataset_description(inputs.meta),
             "One network estimates the vocals magnitude; accompaniment = max(|mixture| − vocals, 0), so both "
             "targets fit the 10 M parameter bound.",
             f"Checkpoints kept at epochs {kept or '(missing: no checkpoint json)'} and evaluated on the test set "
             "only after training.",
             "Griffin-Lim: torch implementation of librosa.griffinlim's algorithm (fast GL with momentum), "
             f"applied to the magnitudes of {gl} instead of the mixture phase.",
             f"Model selection: Task 2, the per-track analysis and the listening samples use {_chosen(inputs)}, "
             f"{inputs.selection.get('how', 'missing')}.",
             f"SDR metric: {_metric(inputs)}; 1 s windows, median per track, then median over tracks"]
    bullets(fig, items, (0.05, 0.08, 0.90, 0.50), fontsize=17)


def _chosen(inputs: Inputs) -> str:
    """The selected checkpoint's label for a sentence ("best.pt (epoch 87)")."""
    label = inputs.selection.get("checkpoint", "best")
    epochs = [r["epoch"] for r in inputs.rows if r["checkpoint"] == label and r.get("epoch") is not None]
    return f"{label}.pt" + (f" (epoch {epochs[0]})" if epochs else "")


def _test_chosen(inputs: Inputs) -> str | None:
    """A subtitle for every slide that uses the selected checkpoint when it was chosen on the test set."""
    if inputs.selection.get("select") == "test":
        return f"{_chosen(inputs)}: chosen on the test set (highest median test vocals SDR), not by validation"
    return None


def _metric(inputs: Inputs) -> str:
    """Which scorer(s) produced the results (summary.json 'metric'), with the BSS Eval version."""
    found = set()
    for path in inputs.results.glob("*/*/summary.json"):
        try:
            found.add(json.loads(path.read_text()).get("metric"))
        except (OSError, ValueError):
            continue
    return "; ".join(metric_label(m) for m in sorted(found, key=str)) or "missing (no summary.json)"


def _results(deck: Deck, inputs: Inputs) -> None:
    rows = inputs.rows
    subtitle = f"test-set SDR in dB ({_metric(inputs)}): median over tracks of per-track medians over 1 s windows"
    fig = deck.slide("Result highlight", subtitle)
    if not rows:
        damaged = inputs.damaged.get("comparison")
        note(fig, public(f"results damaged: {damaged}" if damaged else f"no results yet: {inputs.missing.get('comparison')}"))
        return
    header, cells, notes = text.sdr_table(rows, inputs.epochs, inputs.results)
    gl = inputs.gl_checkpoint
    if not gl:
        notes.append(f"no Griffin-Lim result in {inputs.results / 'comparison.csv'} yet")
    if inputs.epoch_note:
        notes.insert(0, inputs.epoch_note)
    lines = "\n".join(wrap(public(f"note: {line}"), 0.88 * PAGE[0], 13) for line in notes)
    floor = BODY[1] + (13 / 72 * 1.3 * (lines.count("\n") + 1) / PAGE[1] + 0.02 if notes else 0)
    if notes:
        fig.text(0.05, floor - 0.01, lines, fontsize=13, color="#a33", style="italic", va="top", linespacing=1.3)
    top, size1 = 0.70, 16
    task1 = split_rows(header, cells, size1, top, floor)
    if gl:
        header2, cells2 = text.phase_table(rows, gl)
        size2 = 14 if len(cells2) <= 6 else 12
        cells2 = [[wrap(c[0], 0.43 * 0.44 * PAGE[0] * 0.8, size2), *c[1:]] for c in cells2]
        task2 = split_rows(header2, cells2, size2, top, floor)
    for page in range(max(len(task1), len(task2) if gl else 1)):
        cont = CONT if page else ""
        if page:
            fig = deck.slide(f"Result highlight{CONT}", subtitle)
        if page < len(task1) and (task1[page] or not page):
            table(fig, header, task1[page], 0.05, top, 0.42, size1, (0.30, 0.35, 0.35),
                  title=f"Task 1: SDR per epoch{cont}\nmixture phase, {text.track_count_label(rows)}")
        if gl and page < len(task2):
            table(fig, header2, task2[page], 0.52, top, 0.43, size2, (0.44, 0.28, 0.28),
                  title=f"Task 2: phase reconstruction at {text.checkpoint_label(rows, gl)}{cont}\n"
                        + ("(chosen on the test set; " if _test_chosen(inputs) else "(")
                        + "Δ: difference to the mixture phase)")


def _findings(deck: Deck, inputs: Inputs) -> None:
    rows = inputs.rows
    items = _unless_damaged(inputs, "comparison", lambda: text.epoch_findings(rows, inputs.epochs)
                            + text.phase_findings(rows, inputs.gl_checkpoint))
    items += _unless_damaged(inputs, "log", lambda: text.loss_findings(inputs.log))
    if inputs.meta and inputs.meta.get("parameters"):
        n = inputs.meta["parameters"]
        items.append(f"The model has {n:,} trainable parameters ({'within' if n < 10_000_000 else 'ABOVE'} the 10 M limit).")
    bullet_slides(deck, "Findings highlight", "generated from the result files", items, fontsize=17, gap=0.45)


UMX_LAYERS = ["Input: magnitude STFT of the stereo mixture, cropped to the bandwidth and standardised per bin.",
              "fc + batch norm + tanh → BLSTM with skip connection → 2 × (fc + batch norm).",
              "Output: a ReLU mask times the mixture magnitude (vocals).",
              "Accompaniment = residual of the mixture magnitude."]  # Open-Unmix's structure (hw2sep.models.umx)


def _model(deck: Deck, inputs: Inputs) -> None:
    model = (inputs.meta or {}).get("model")
    fig = deck.slide("Details: model", "Open-Unmix (Stöter et al., 2019), re-implemented and trained from scratch"
                     if model == "umx" else f"{model or 'model: missing'}, trained from scratch (checkpoint json)")
    _figure_or_note(fig, inputs, "architecture", (0.03, 0.08, 0.60, 0.74))
    if model == "umx":
        bullets(fig, UMX_LAYERS, (0.65, 0.08, 0.31, 0.72), fontsize=15)


def _training(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide("Details: training and augmentation", "settings from the checkpoint json; loss from log.csv")
    if inputs.meta:
        settings = [[k, wrap(v, 0.45 * 0.78 * PAGE[0] * 0.95, 12)] for k, v in text.settings_rows(inputs.meta)]
        table(fig, ["setting", "value"], settings, 0.03, 0.80, 0.45, 12, (0.22, 0.78))
    else:
        note(fig, public(f"no checkpoint json: {inputs.missing.get('meta')}"), (0.03, 0.10, 0.45, 0.70))
    _figure_or_note(fig, inputs, "loss_curves", (0.50, 0.18, 0.48, 0.62))
    fig.text(0.50, 0.15, wrap(text.loss_findings(inputs.log)[0], 0.46 * PAGE[0], 13), fontsize=13, va="top")


def _analysis(deck: Deck, inputs: Inputs, title: str, name: str, lines: list[str], selected: bool = False) -> None:
    fig = deck.slide(title, _test_chosen(inputs) if selected else None)
    _figure_or_note(fig, inputs, name, (0.05, 0.29, 0.90, 0.55))
    bullets(fig, lines or [""], (0.05, 0.06, 0.90, 0.22), fontsize=15, gap=0.25)


def _per_track_lines(inputs: Inputs) -> list[str]:
    label = inputs.gl_checkpoint or (inputs.best[1] if inputs.best else None)
    if label is None:
        return []
    per_track = read_per_track(inputs.results, label, "mixture") if "per_track_sdr" in inputs.drawn else []
    return text.track_findings(per_track, text.checkpoint_label(inputs.rows, label))


def _spectro(deck: Deck, inputs: Inputs) -> None:
    fig = deck.slide("Analysis: spectrograms and listening samples", _test_chosen(inputs))
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
        bullet_slides(deck, OWN_SLIDES[key], "in my own words (report_config.json)", items, fontsize=17, gap=0.45)


def _bss_appendix(deck: Deck, inputs: Inputs) -> None:
    subtitle = "median of per-track medians; SIR: interference, SAR: artifacts, ISR: spatial image"
    fig = deck.slide(APPENDIX[0], subtitle)
    label = inputs.gl_checkpoint or (inputs.best[1] if inputs.best else None)
    if label is None:
        note(fig, "no evaluated checkpoint in comparison.csv yet")
        return
    header, cells = text.bss_table(inputs.rows, label)
    title = (f"{text.checkpoint_label(inputs.rows, label)}, {text.track_count_label(inputs.rows)}"
             + ("; ISR 'missing': mir_eval's BSS Eval v3 has none" if "mir_eval" in _metric(inputs) else ""))
    for page, part in enumerate(split_rows(header, cells, 14, 0.76)):
        if page:
            fig = deck.slide(APPENDIX[0] + CONT, subtitle)
        table(fig, header, part, 0.05, 0.76, 0.90, 14, (0.34, 0.18, 0.12, 0.12, 0.12, 0.12),
              title=title + (CONT if page else ""))


def _per_track_appendix(deck: Deck, inputs: Inputs) -> None:
    """Every track's SDR, two tables of as many rows as fit per page, as many pages as needed ("(cont.)")."""
    label = inputs.gl_checkpoint or (inputs.best[1] if inputs.best else None)
    per_track = _attempt(inputs, "per_track", lambda: read_per_track(inputs.results, label, "mixture")) if label else None
    if not per_track:
        note(deck.slide(APPENDIX[1]), "no per-track results yet")
        return
    header, cells = text.per_track_table(per_track)
    column = len(split_rows(header, cells, 10, 0.80)[0])
    page = 2 * column
    for first in range(0, len(cells), page):
        fig = deck.slide(APPENDIX[1] + (CONT if first else ""),
                         f"{text.checkpoint_label(inputs.rows, label)}, mixture phase, tracks "
                         f"{first + 1}-{min(first + page, len(cells))} of {len(cells)} (best vocals first)")
        for half in range(2):
            part = cells[first + half * column: first + (half + 1) * column]
            if part:
                table(fig, header, part, 0.04 + 0.47 * half, 0.80, 0.45, 10, (0.58, 0.21, 0.21))


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


