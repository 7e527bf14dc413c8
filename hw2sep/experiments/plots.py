"""Figures of an experiment, drawn from its table rows and per-track scores (matplotlib, imported here only).

``plot_experiment`` writes, beside ``table.csv``: ``sdr_vs_parameters.png`` (one labelled point per run),
``sdr_per_track.png`` (box plots of the per-track median SDR per run) and, when the runs differ in
excerpt length, ``sdr_vs_length.png`` (x = seq_dur, one line per model). SDR is museval's median over
1 s windows per track; a table value is the median of those over the test tracks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hw2sep import TARGETS
from hw2sep.common.files import atomic_path


def plot_experiment(folder: str | Path, rows: Sequence[dict], per_track: dict[str, dict[str, list[float]]]) -> list[Path]:
    """Draw every figure that the rows support; returns the PNG paths written."""
    folder = Path(folder)
    rows = [r for r in rows if _number(r.get("vocals_SDR_main")) is not None]
    paths = []
    if rows:
        paths.append(plot_sdr_vs_parameters(rows, folder / "sdr_vs_parameters.png"))
    if per_track:
        paths.append(plot_per_track(per_track, folder / "sdr_per_track.png"))
    if len({_number(r.get("seq_dur")) for r in rows}) > 1:
        paths.append(plot_sdr_vs_length(rows, folder / "sdr_vs_length.png"))
    return paths


def plot_sdr_vs_parameters(rows: Sequence[dict], path: str | Path) -> Path:
    """Median-of-medians SDR (main method) against trainable parameters, one labelled point per run."""
    fig, axes = _subplots(1, len(TARGETS), figsize=(11, 4.2), squeeze=False)
    for ax, target in zip(axes[0], TARGETS):
        for row in rows:
            x, y = _number(row["parameters"]) / 1e6, _number(row.get(f"{target}_SDR_main"))
            if y is None:
                continue
            ax.scatter(x, y, s=30)
            ax.annotate(row["run"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
            gl = _number(row.get(f"{target}_SDR_griffinlim"))
            if gl is not None:
                ax.scatter(x, gl, s=18, marker="x", color="gray")
        sizes = [_number(r["parameters"]) for r in rows]
        wide = min(sizes) > 0 and max(sizes) / min(sizes) > 10
        if wide:
            ax.set_xscale("log")
        ax.set(title=f"{target}", xlabel=f"trainable parameters (M{', log' if wide else ''})", ylabel="SDR (dB)")
        ax.grid(alpha=0.3)
    fig.suptitle("SDR against model size (dot: own reconstruction, x: Griffin-Lim)")
    return _save(fig, path)


def plot_per_track(per_track: dict[str, dict[str, list[float]]], path: str | Path) -> Path:
    """Box plots of per-track SDR (main method), one box per run, one panel per target."""
    names = list(per_track)
    fig, axes = _subplots(1, len(TARGETS), figsize=(max(8, 1.1 * len(names) * len(TARGETS)), 4.5), squeeze=False)
    for ax, target in zip(axes[0], TARGETS):
        ax.boxplot([per_track[n][target] for n in names], showmeans=False)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=35, ha="right", fontsize=8)
        ax.set(title=target, ylabel="per-track median SDR (dB)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("SDR per test track (own reconstruction)")
    return _save(fig, path)


def plot_sdr_vs_length(rows: Sequence[dict], path: str | Path) -> Path:
    """SDR against training excerpt length, one line per model (solid: own method, dashed: Griffin-Lim)."""
    fig, axes = _subplots(1, len(TARGETS), figsize=(11, 4.2), squeeze=False)
    models = list(dict.fromkeys(r["model"] for r in rows))
    for ax, target in zip(axes[0], TARGETS):
        for index, model in enumerate(models):
            points = sorted((_number(r["seq_dur"]), r) for r in rows if r["model"] == model)
            color = f"C{index}"
            for token, style in (("main", "-o"), ("griffinlim", "--x")):
                xy = [(x, _number(r.get(f"{target}_SDR_{token}"))) for x, r in points]
                xy = [(x, y) for x, y in xy if y is not None]
                if xy:
                    ax.plot(*zip(*xy), style, color=color, label=f"{model} ({'own' if token == 'main' else 'GL'})")
        ax.set(title=target, xlabel="training excerpt length seq_dur (s)", ylabel="SDR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("SDR against input length")
    return _save(fig, path)


def _subplots(nrows: int, ncols: int, figsize: tuple[float, float], squeeze: bool = False):
    """A figure without pyplot: no backend is chosen or changed (safe in notebooks and headless)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
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
