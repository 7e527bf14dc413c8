"""The optional tasks in the report and notebooks 07/08: experiment tables, their slides, the phase-methods slide.

Reads only what ``hw2sep-experiment`` wrote (EXPERIMENTS/<name>/experiment.json, table.csv and
the runs' per_track.csv, from which the figures are redrawn as vectors; a ``<name>_smoke`` folder when
only a SMOKE run exists) and comparison.csv. Long tables continue on "(cont.)" slides. A slide is
drawn only when its results exist; every result that does not gives one line on the "Missing results"
slide instead, naming the notebook that makes it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from hw2sep.report import experiment_plots
from hw2sep.errors import Hw2sepError
from hw2sep.dsp.methods import method_label
from hw2sep.names import TARGETS, metric_label
from hw2sep.report.results import DamagedResultError, find_row, methods_of, non_numeric_cells, read_per_track
from hw2sep.report.slides import BODY, CONT, PAGE, Deck, bullet_slides, bullets, panel, split_rows, table, wrap
from hw2sep.report.text import budget_label, checkpoint_label, fmt

COMPARE = "compare_models"
ABLATIONS = ("augmentation", "structure", "input_length", "bsrnn_loss", "umx_loss")
TITLES = {  # experiment name -> slide title
    COMPARE: "Optional task 1: compare models",
    "augmentation": "Ablation: data augmentation",
    "structure": "Ablation: model structure",
    "input_length": "Ablation: input length",
    "bsrnn_loss": "Ablation: loss (band-split RNN)",
    "umx_loss": "Ablation: loss (Open-Unmix)",
}
NOTEBOOK = {COMPARE: "notebooks/07_compare_models.ipynb", **{n: "notebooks/08_ablations.ipynb" for n in ABLATIONS}}
PHASE_TITLE = "Analysis: phase methods, SDR and LSD"
MISSING_TITLE = "Missing results"
FIGURES_PER_SLIDE = 2  # experiment figures stacked on one slide; with more runs than RUNS_TO_STACK, one each
RUNS_TO_STACK = 6
VOCODERS = ("vocoder", "vocoder-linear")
PHASE_SDR_NOTE = ("SDR compares waveforms sample by sample, so a phase that is plausible but not aligned with the "
                  "reference (Griffin-Lim, a vocoder) is scored as distortion even where it sounds right; the "
                  "log-spectral distance (LSD, dB, lower is better) compares magnitudes only and ignores phase.")
ORIGIN_PREFIX = "this package, after "


@dataclass
class ExperimentTable:
    """One experiment's table: its rows (as in table.csv), method tokens, settings and figures."""

    name: str
    folder: Path
    rows: list[dict]
    tokens: list[str]          # method tokens with SDR columns: "main" (the model's own reconstruction), ...
    smoke: bool
    description: str = ""
    figures: dict = field(default_factory=dict)  # figure name -> draw(fig), see experiment_plots.figures_for
    info: dict = field(default_factory=dict)     # experiment.json: budget, evaluate (metric, tracks), ...


def experiment_folder(experiments: str | Path, name: str) -> Path:
    """EXPERIMENTS/<name>, or EXPERIMENTS/<name>_smoke when only the SMOKE run exists."""
    full, smoke = Path(experiments) / name, Path(experiments) / f"{name}_smoke"
    return full if (full / "table.csv").exists() or not (smoke / "table.csv").exists() else smoke


def read_experiment(experiments: str | Path, name: str) -> ExperimentTable:
    """The table of EXPERIMENTS/<name>; Hw2sepError naming the notebook to run when it is missing."""
    folder = experiment_folder(experiments, name)
    path = folder / "table.csv"
    if not path.exists():
        raise Hw2sepError(f"no {path}: run {NOTEBOOK.get(name, 'python -m hw2sep.experiments.runner')}")
    text = path.read_text()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    if (text and not text.endswith("\n")) or any(None in r or None in r.values() for r in rows):
        raise DamagedResultError(f"{path} is cut off or malformed: rerun the experiment (finished runs are kept)")
    if not rows:
        raise Hw2sepError(f"{path} holds no finished run yet: run {NOTEBOOK.get(name, 'the experiment')}")
    for warning in non_numeric_cells(path, rows):
        print(f"warning: {warning}", file=sys.stderr)
    header = list(rows[0])
    tokens = list(dict.fromkeys(k.split("_SDR_", 1)[1] for k in header if "_SDR_" in k))
    try:
        info = json.loads((folder / "experiment.json").read_text())
    except (OSError, ValueError):
        info = {}
    figures = experiment_plots.figures_for(rows, _per_track(folder, rows))
    return ExperimentTable(name, folder, rows, tokens, bool(info.get("smoke")) or folder.name.endswith("_smoke"),
                           str(info.get("description", "")), figures, info)


def _per_track(folder: Path, rows: Sequence[dict]) -> dict[str, dict[str, list[float]]]:
    """{run: {target: per-track SDR}} of each run's own reconstruction.

    Read from RUN/results/best/<main_method>/per_track.csv, the table's main_method naming the method.
    """
    found = {}
    for row in rows:
        results = folder / "runs" / row["run"] / "results"
        if row.get("main_method") and (results / "best" / row["main_method"] / "per_track.csv").exists():
            try:
                scores = read_per_track(results, "best", row["main_method"])
            except Hw2sepError:
                continue
            found[row["run"]] = {t: [r["SDR"] for r in scores if r["target"] == t and r["SDR"] is not None]
                                 for t in TARGETS}
    return found


def _number(value) -> float | None:
    if value in (None, "", "None", "nan"):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _token_label(token: str) -> str:
    return "own" if token == "main" else method_label(token)


def _duration(seconds) -> str:
    value = _number(seconds)
    return "" if value is None else f"{value / 60:.1f} min" if value >= 60 else f"{value:.0f} s"


def _method(row: dict, fontsize: float) -> str:
    """The run's own reconstruction, named as in the method table, wrapped to its column."""
    return wrap(method_label(row.get("main_method", "")), 0.07 * 0.92 * PAGE[0] * 0.75, fontsize)


def _fitted(word: str, width_in: float, fontsize: float = 9) -> str:
    """`word`, hyphenated onto two lines when it is wider than `width_in` in bold at `fontsize` (table headers)."""
    if len(word) * 0.66 * fontsize <= width_in * 72:
        return word
    half = (len(word) + 1) // 2
    return f"{word[:half]}-\n{word[half:]}"


def experiment_cells(exp: ExperimentTable) -> tuple[list[str], list[list[str]], list[float]]:
    """(header, cells, column widths) of an experiment table; the comparison adds pretrained and code origin."""
    n = len(exp.tokens) * len(TARGETS)
    fixed_share = 0.65 if exp.name == COMPARE else 0.63
    column_in = (1 - fixed_share) / max(n, 1) * 0.92 * PAGE[0] * 0.78  # the cell's room inside its padding
    sdr_header = [_fitted(t, column_in) + "\n" + wrap(f"SDR {_token_label(k)}", column_in, 12)
                  for k in exp.tokens for t in TARGETS]
    sdr = lambda r: [fmt(_number(r.get(f"{t}_SDR_{k}"))) for k in exp.tokens for t in TARGETS]  # noqa: E731
    if exp.name == COMPARE:
        header = ["model", "parameters", "pre-\ntrained", "code origin\n(own code, after)", "epochs", "own\nrecon.",
                  *sdr_header]
        fixed = [0.12, 0.09, 0.06, 0.25, 0.06, 0.07]
        width = sum(fixed)
        origin_in = fixed[3] * 0.90 * PAGE[0] * 0.9
        cells = [[r["model"], f"{int(_number(r['parameters']) or 0):,}", r.get("pretrained", ""),
                  wrap(r.get("code_origin", "").removeprefix(ORIGIN_PREFIX), origin_in, 10), r.get("epochs", ""),
                  _method(r, 10), *sdr(r)] for r in exp.rows]
    else:
        header = ["run", "varied", "parameters", "epochs", "training\ntime", "own\nrecon.", *sdr_header]
        fixed = [0.12, 0.22, 0.10, 0.06, 0.06, 0.07]
        width = sum(fixed)
        cells = [[r["run"], wrap(r.get("varied", ""), fixed[1] * 0.90 * PAGE[0] * 0.9, 10),
                  f"{int(_number(r['parameters']) or 0):,}", r.get("epochs", ""), _duration(r.get("train_seconds")),
                  _method(r, 10), *sdr(r)] for r in exp.rows]
    return header, cells, [*fixed, *([(1 - width) / n] * n if n else [])]


def experiment_findings(exp: ExperimentTable) -> list[str]:
    """The best run per target by the own reconstruction's SDR, the budget and epochs, and how SDR was scored."""
    out = []
    for target in TARGETS:
        scored = [(_number(r.get(f"{target}_SDR_main")), r["run"]) for r in exp.rows]
        scored = [s for s in scored if s[0] is not None]
        if scored:
            best, run = max(scored)
            out.append(f"Best {target} SDR (own reconstruction): {run} ({fmt(best)} dB) of {len(scored)} run(s).")
    epochs = sorted({int(e) for e in (_number(r.get("epochs")) for r in exp.rows) if e is not None})
    budget = budget_label(exp.info.get("budget")) if exp.info.get("budget") else None
    if budget or epochs:
        trained = ", ".join(map(str, epochs)) if epochs else "missing"
        out.append(f"Budget per run{' (SMOKE run)' if exp.smoke else ''}: {budget or 'missing (no experiment.json)'};"
                   f" epochs trained: {trained}.")
    evaluate = exp.info.get("evaluate") or {}
    tracks = evaluate.get("tracks")
    out.append(f"SDR: {metric_label(evaluate.get('metric'))}, median over {tracks or 'all'} test tracks of the "
               "per-track median over 1 s windows; 'own' = the model's own reconstruction (mixture phase or its "
               "direct output).")
    return out


EPOCH_CLAUSE = re.compile(r"\b\d+\s+epochs?\b|\bepochs\s*=\s*\d+")


def setup_text(description: str) -> str:
    """The experiment's description without its clauses that state an epoch budget ("50 epochs each"):
    the budget shown is the one the runs had (``experiment_findings``), which a SMOKE run changes."""
    def split(text: str, sep: str) -> list[str]:
        parts, depth, start = [], 0, 0
        for i, char in enumerate(text):
            depth += (char == "(") - (char == ")")
            if depth == 0 and text.startswith(sep, i):
                parts.append(text[start:i])
                start = i + len(sep)
        return [*parts, text[start:]]

    kept = []
    for clause in split(description.strip().rstrip("."), "; "):
        if EPOCH_CLAUSE.search(clause):
            clause = ", ".join(p for p in split(clause, ", ") if not EPOCH_CLAUSE.search(p))
        if clause.strip():
            kept.append(clause.strip())
    return "; ".join(kept) + ("." if kept else "")


def markdown(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """A markdown table (line breaks in cells become spaces): what notebooks 04, 07 and 08 display."""
    clean = lambda c: " ".join(str(c).replace("-\n", "-").split()).replace("|", "/")  # noqa: E731
    lines = ["| " + " | ".join(map(clean, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(clean, row)) + " |" for row in cells]
    return "\n".join(lines)


def experiment_markdown(exp: ExperimentTable) -> str:
    """The experiment's table as on its slide, as markdown (notebooks 07 and 08)."""
    header, cells, _ = experiment_cells(exp)
    return markdown(header, cells)


# ---------------------------------------------------------------- phase reconstruction (notebook 04, report)
def phase_method_checkpoint(rows: Sequence[dict], prefer: str | None = None) -> str | None:
    """The checkpoint scored with the most reconstruction methods besides the mixture phase (``prefer`` first)."""
    counts = {c: len(methods_of(rows, c)) for c in dict.fromkeys(r["checkpoint"] for r in rows)}
    if prefer in counts and counts[prefer] > 1:
        return prefer
    many = [c for c, n in counts.items() if n > 1]
    return max(many, key=lambda c: counts[c]) if many else None


def phase_cells(rows: Sequence[dict], checkpoint: str) -> tuple[list[str], list[list[str]]]:
    """(header, cells): SDR and log-spectral distance per reconstruction method of one checkpoint."""
    header = ["reconstruction", *(f"{t}\nSDR (dB)" for t in TARGETS), *(f"{t}\nLSD (dB)" for t in TARGETS)]
    cells = []
    for method in methods_of(rows, checkpoint):
        found = [find_row(rows, checkpoint, method, t) or {} for t in TARGETS]
        cells.append([method_label(method), *(fmt(_number(r.get("SDR"))) for r in found),
                      *(fmt(_number(r.get("LSD"))) for r in found)])
    return header, cells


def phase_markdown(rows: Sequence[dict], checkpoint: str) -> tuple[str, str]:
    """Two markdown tables of one checkpoint's reconstruction methods: SDR, then LSD (notebook 04)."""
    header, cells = phase_cells(rows, checkpoint)
    n = len(TARGETS)
    return (markdown(header[:1 + n], [c[:1 + n] for c in cells]),
            markdown([header[0], *header[1 + n:]], [[c[0], *c[1 + n:]] for c in cells]))


# ---------------------------------------------------------------- gathering and slides
@dataclass
class OptionalResults:
    """The optional tasks' inputs: experiment tables found, and one line per result that is missing."""

    tables: dict[str, ExperimentTable] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def gather(experiments: str | Path | None) -> OptionalResults:
    """Read every experiment table; a missing or damaged one becomes a line in ``missing``."""
    found = OptionalResults()
    for name in (COMPARE, *ABLATIONS):
        if experiments is None:
            found.missing.append(f"{TITLES[name]}: no experiments folder given (build_report --experiments "
                                 f"WORK/experiments); run {NOTEBOOK[name]}")
            continue
        try:
            found.tables[name] = read_experiment(experiments, name)
        except Hw2sepError as err:
            found.missing.append(f"{TITLES[name]}: {'damaged: ' if isinstance(err, DamagedResultError) else ''}{err}")
    return found


def experiment_slides(deck: Deck, found: OptionalResults, public) -> None:
    """Table slides ("(cont.)" when long) and figure slides per experiment that has results."""
    for name, exp in found.tables.items():
        smoke = " (SMOKE run: toy data)" if exp.smoke else ""
        subtitle = ("all trained from scratch, no pretrained weights; SDR in dB" if name == COMPARE
                    else "one setting changed per run; SDR in dB") + smoke
        header, cells, widths = experiment_cells(exp)
        size = 11 if len(cells) <= 6 else 10
        findings = [public(line) for line in experiment_findings(exp)]
        pages = split_rows(header, cells, size, 0.80)
        for page, part in enumerate(pages):
            fig = deck.slide(TITLES[name] + (CONT if page else ""), subtitle)
            low = table(fig, header, part, 0.04, 0.80, 0.92, size, widths)
            if page == len(pages) - 1 and low - 0.04 - BODY[1] < 0.12:  # no room under the last part
                fig = deck.slide(f"{TITLES[name]}: findings", subtitle)
                low = 0.84
            if page == len(pages) - 1:
                bullets(fig, findings, (0.04, BODY[1], 0.92, low - 0.04 - BODY[1]), fontsize=13, gap=0.25,
                        min_fontsize=9)
        figures = list(exp.figures.values())
        per_slide = FIGURES_PER_SLIDE if len(exp.rows) <= RUNS_TO_STACK else 1
        setup = setup_text(exp.description)
        for first in range(0, max(len(figures), 1 if setup else 0), per_slide):
            fig = deck.slide(f"{TITLES[name]}: figures" + (CONT if first else ""),
                             "drawn from table.csv and the runs' per_track.csv" + smoke)
            part = figures[first:first + per_slide]
            bottom = 0.22 if setup and not first else BODY[1]
            height = (0.80 - bottom) / max(1, len(part))
            for i, draw in enumerate(part):
                draw(panel(fig, (0.05, 0.80 - height * (i + 1) + 0.01, 0.90, height - 0.02)))
            if setup and not first:
                bullets(fig, [public(f"Set-up: {setup}")], (0.05, BODY[1], 0.90, 0.12), fontsize=13,
                        gap=0.2, min_fontsize=9)


def phase_slide(deck: Deck, rows: Sequence[dict], prefer: str | None, found: OptionalResults) -> None:
    """SDR and LSD of every reconstruction method scored for the phase checkpoint (vocoders included)."""
    checkpoint = phase_method_checkpoint(rows, prefer)
    if checkpoint is None:
        found.missing.append(f"{PHASE_TITLE}: no checkpoint scored with more than the mixture phase in "
                             "comparison.csv; run notebooks/04_griffin_lim.ipynb")
        return
    methods = methods_of(rows, checkpoint)
    if not any(m in methods for m in VOCODERS):
        found.missing.append(f"Trained vocoders (optional task 3): no 'vocoder' or 'vocoder-linear' result for "
                             f"{checkpoint}; run the vocoder part of notebooks/04_griffin_lim.ipynb")
    subtitle = f"{checkpoint_label(rows, checkpoint)}; median over test tracks of per-track medians"
    header, cells = phase_cells(rows, checkpoint)
    size = 14 if len(cells) <= 6 else 12
    pages = split_rows(header, cells, size, 0.78, 0.24)  # room under the last part for the note
    for page, part in enumerate(pages):
        fig = deck.slide(PHASE_TITLE + (CONT if page else ""), subtitle)
        low = table(fig, header, part, 0.05, 0.78, 0.90, size, (0.32, 0.17, 0.17, 0.17, 0.17))
    bullets(fig, [PHASE_SDR_NOTE], (0.05, BODY[1], 0.90, low - 0.04 - BODY[1]), fontsize=15, gap=0.3)


def missing_slide(deck: Deck, found: OptionalResults, public) -> None:
    """One line per optional result that is missing (no slide when nothing is)."""
    if not found.missing:
        return
    bullet_slides(deck, MISSING_TITLE, "results not shown because they do not exist (yet)",
                  [public(line) for line in found.missing], fontsize=14, gap=0.25, min_fontsize=9)
