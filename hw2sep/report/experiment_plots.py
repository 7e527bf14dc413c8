"""Figures of an experiment, drawn from its table rows and per-track scores (matplotlib, imported here only).

``plot_experiment`` writes, beside ``table.csv``: ``sdr_vs_parameters.png`` (SDR of each run, its
size in the label), ``sdr_per_track.png`` (box plots of the per-track median SDR per run) and, when
the runs differ in excerpt length, ``sdr_vs_length.png`` (x = seq_dur, one line per model). The
``draw_*`` functions draw the same figures into a given figure (the report's slide panels). Runs lie
one per row, named once at the left, so labels never meet at any number of runs; no text is under 9 pt.
SDR is the per-track median over 1 s windows; a table value is the median of those over the test tracks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hw2sep.names import TARGETS
from hw2sep.common.files import atomic_path

FONT = 11  # pt; the smallest text is FONT - 2 = 9 pt
FIGURES = {"sdr_vs_parameters": "sdr_vs_parameters.png", "sdr_per_track": "sdr_per_track.png",
           "sdr_vs_length": "sdr_vs_length.png"}


def plot_experiment(folder: str | Path, rows: Sequence[dict],
                    per_track: dict[str, dict[str, list[float]]]) -> list[Path]:
    """Draw every figure that the rows support; returns the PNG paths written."""
    folder = Path(folder)
    paths = []
    for name, draw in figures_for(rows, per_track).items():
        fig = _figure(draw_size(rows))
        draw(fig)
        paths.append(_save(fig, folder / FIGURES[name]))
    return paths


def figures_for(rows: Sequence[dict], per_track: dict[str, dict[str, list[float]]]) -> dict:
    """{figure name: draw(fig)} of the figures the rows and per-track scores support, in slide order."""
    rows = [r for r in rows if _number(r.get("vocals_SDR_main")) is not None]
    found = {}
    if rows:
        found["sdr_vs_parameters"] = lambda fig: draw_sdr_vs_parameters(rows, fig)
    if per_track:
        found["sdr_per_track"] = lambda fig: draw_per_track(per_track, fig)
    if len({_number(r.get("seq_dur")) for r in rows}) > 1:
        found["sdr_vs_length"] = lambda fig: draw_sdr_vs_length(rows, fig)
    return found


def draw_size(rows: Sequence[dict]) -> tuple[float, float]:
    """Inches of a standalone figure: one 0.25 in row per run."""
    return 11.0, max(4.2, 1.6 + 0.25 * len(rows))


def _rows_axes(fig, n: int):
    """One panel per target sharing the run rows (first run on top); returns the axes."""
    axes = fig.subplots(1, len(TARGETS), sharey=True, squeeze=False)[0]
    for ax in axes:
        ax.set_ylim(n - 0.4, -0.6)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=FONT - 1)
    return axes


def _run_fontsize(n: int) -> float:
    return max(FONT - 2, FONT - n // 10)


def draw_sdr_vs_parameters(rows: Sequence[dict], fig) -> None:
    """Median-of-medians SDR of each run (dot: own reconstruction, x: Griffin-Lim); parameters in the run's label."""
    axes = _rows_axes(fig, len(rows))
    labels = [f"{r['run']} ({(_number(r['parameters']) or 0) / 1e6:.2f} M)" for r in rows]
    for ax, target in zip(axes, TARGETS):
        for y, row in enumerate(rows):
            own, gl = _number(row.get(f"{target}_SDR_main")), _number(row.get(f"{target}_SDR_griffinlim"))
            if own is not None:
                ax.scatter(own, y, s=40, color="C0", zorder=3)
            if gl is not None:
                ax.scatter(gl, y, s=30, marker="x", color="gray", zorder=3)
        ax.set_title(target, fontsize=FONT + 1)
        ax.set_xlabel("SDR (dB)", fontsize=FONT)
    axes[0].set_yticks(range(len(rows)), labels, fontsize=_run_fontsize(len(rows)))
    fig.suptitle("SDR per run, trainable parameters in brackets (dot: own reconstruction, x: Griffin-Lim)",
                 fontsize=FONT + 1)


def draw_per_track(per_track: dict[str, dict[str, list[float]]], fig) -> None:
    """Box plots of per-track SDR (own reconstruction), one row per run, one panel per target."""
    names = list(per_track)
    axes = _rows_axes(fig, len(names))
    horizontal = {"orientation": "horizontal"}
    for ax, target in zip(axes, TARGETS):
        data = [per_track[n][target] for n in names]
        kept = [(i, d) for i, d in enumerate(data) if d]
        if kept:
            ax.boxplot([d for _, d in kept], positions=[i for i, _ in kept], widths=0.6, manage_ticks=False,
                       **horizontal)
        ax.set_title(target, fontsize=FONT + 1)
        ax.set_xlabel("per-track median SDR (dB)", fontsize=FONT)
    axes[0].set_yticks(range(len(names)), names, fontsize=_run_fontsize(len(names)))
    fig.suptitle("SDR per test track (own reconstruction)", fontsize=FONT + 1)


def draw_sdr_vs_length(rows: Sequence[dict], fig) -> None:
    """SDR against training excerpt length, one line per model (solid: own method, dashed: Griffin-Lim)."""
    axes = fig.subplots(1, len(TARGETS), squeeze=False)[0]
    models = list(dict.fromkeys(r["model"] for r in rows))
    for ax, target in zip(axes, TARGETS):
        for index, model in enumerate(models):
            points = sorted(((_number(r["seq_dur"]), i) for i, r in enumerate(rows) if r["model"] == model))
            for token, style in (("main", "-o"), ("griffinlim", "--x")):
                xy = [(x, _number(rows[i].get(f"{target}_SDR_{token}"))) for x, i in points]
                xy = [(x, y) for x, y in xy if x is not None and y is not None]
                if xy:
                    ax.plot(*zip(*xy), style, color=f"C{index}",
                            label=f"{model} ({'own' if token == 'main' else 'GL'})")
        ax.set_title(target, fontsize=FONT + 1)
        ax.set_xlabel("training excerpt length seq_dur (s)", fontsize=FONT)
        ax.set_ylabel("SDR (dB)", fontsize=FONT)
        ax.tick_params(labelsize=FONT - 1)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=FONT - 2, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.suptitle("SDR against input length", fontsize=FONT + 1)


def _figure(size: tuple[float, float]):
    """A figure without pyplot: no backend is chosen or changed (safe in notebooks and headless)."""
    from matplotlib.figure import Figure
    return Figure(figsize=size, layout="constrained")


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    return path


def _number(value) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
