"""Figures for the notebooks and the report, drawn only from result files and arrays.

Every function returns a `matplotlib.figure.Figure` (not registered with pyplot, so nothing leaks or
shows twice in a notebook) sized for a 16:9 slide, with fonts of 9 pt or more and units on every
axis; given ``fig`` (a slide's SubFigure, see ``slides.panel``) it draws into that instead, so the
report embeds it as vectors at its placed size. `save_figure` writes a PNG and a PDF of it atomically.
A missing input raises `Hw2sepError`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from hw2sep.errors import Hw2sepError
from hw2sep.common.files import atomic_path
from hw2sep.names import SAMPLE_RATE, TARGETS
from hw2sep.dsp.methods import method_label
from hw2sep.report.results import epoch_checkpoints, find_row, read_comparison, read_log, read_per_track

FONT, TITLE = 14, 18
_MPL = tuple(int(x) for x in matplotlib.__version__.split(".")[:2])
_HORIZONTAL = {"orientation": "horizontal"} if _MPL >= (3, 10) else {"vert": False}
COLORS = {"vocals": "#d1495b", "accompaniment": "#00798c", "train": "#edae49", "valid": "#30638e"}


def save_figure(fig: Figure, folder: str | os.PathLike, name: str, dpi: int = 150) -> list[Path]:
    """Write ``folder/name.png`` and ``folder/name.pdf`` atomically; returns both paths."""
    paths = []
    for ext in ("png", "pdf"):
        path = Path(folder) / f"{name}.{ext}"
        with atomic_path(path, suffix=f".{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi)
        paths.append(path)
    return paths


SMALLEST = 9  # pt: no text in a figure or table is smaller, at the size it is placed on a slide
HORIZONTAL_FROM = 5  # box plots of this many groups or more lie on their side, one labelled row each


def _figure(width: float = 12.0, height: float = 5.6, fig: Figure | None = None) -> Figure:
    """``fig`` when given (a slide's SubFigure), else a new constrained-layout figure of that size."""
    return fig if fig is not None else Figure(figsize=(width, height), layout="constrained")


def _style(ax, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None) -> None:
    """Explicit font sizes (rcParams may differ where the figure is drawn) and a light grid."""
    if title:
        ax.set_title(title, fontsize=TITLE - 2)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=FONT)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(True, alpha=0.3)


def plot_loss_curves(run: str | os.PathLike, mark_epochs: Sequence[int] = (), fig: Figure | None = None) -> Figure:
    """Training and validation loss per epoch from RUN/log.csv, the best validation epoch marked."""
    log = read_log(run)
    epochs = [r["epoch"] for r in log]
    fig = _figure(fig=fig)
    ax = fig.add_subplot()
    for key in ("train", "valid"):
        ax.plot(epochs, [r[f"{key}_loss"] for r in log], color=COLORS[key], lw=2.5,
                marker="o" if len(log) < 30 else None, label=f"{'training' if key == 'train' else 'validation'} loss")
    best = min(log, key=lambda r: r["valid_loss"])
    ax.scatter([best["epoch"]], [best["valid_loss"]], s=220, marker="*", color="black", zorder=5,
               label=f"best validation: epoch {best['epoch']} ({best['valid_loss']:.4g})")
    for previous, row in zip(log, log[1:]):
        if row["lr"] and previous["lr"] and row["lr"] < previous["lr"]:
            ax.axvline(row["epoch"], color="grey", ls="--", lw=1)
            ax.text(row["epoch"], 1.0, f" lr {row['lr']:.0e}", transform=ax.get_xaxis_transform(),
                    fontsize=FONT - 2, va="top", color="grey")
    for epoch in mark_epochs:
        if epochs and min(epochs) <= epoch <= max(epochs):
            ax.axvline(epoch, color="#888", ls=":", lw=1.2)
    values = [r[k] for r in log for k in ("train_loss", "valid_loss") if r[k]]
    if values and min(values) > 0 and max(values) / min(values) > 10:
        ax.set_yscale("log")
    ax.legend(fontsize=FONT - 1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    _style(ax, "Training and validation loss", "epoch", "MSE of magnitude spectrogram")
    return fig


def _sdr_values(results, checkpoint: str, method: str, target: str) -> np.ndarray:
    """Finite per-track SDRs (dB) of one checkpoint / method / target."""
    rows = read_per_track(results, checkpoint, method)
    values = np.array([r["SDR"] for r in rows if r["target"] == target and r["SDR"] is not None], dtype=float)
    return values[np.isfinite(values)]


def _boxes(ax, groups: list[np.ndarray | None], medians: list[float | None], labels: list[str], color: str,
           horizontal: bool = False, show_labels: bool = True) -> None:
    """Box plots of per-track SDR, each median of medians written beside its box (None = no result).

    Upright, the medians sit in a row above the boxes; ``horizontal`` (many groups) puts one group
    per row, first at the top, its median right of the axes, so no two labels can meet.
    """
    n = len(groups)
    positions = np.arange(1, n + 1)
    size = FONT if n < HORIZONTAL_FROM else max(SMALLEST, FONT - n // 2)
    present = [(p, g) for p, g in zip(positions, groups) if g is not None and len(g)]
    if present:
        parts = ax.boxplot([g for _, g in present], positions=[p for p, _ in present], widths=0.55,
                           patch_artist=True, showfliers=False, medianprops={"color": "black", "lw": 2},
                           manage_ticks=False,
                           **(_HORIZONTAL if horizontal else {}))
        for box in parts["boxes"]:
            box.set(facecolor=color, alpha=0.35)
        for p, g in present:
            jitter = np.random.default_rng(int(p)).uniform(-0.12, 0.12, len(g))
            xy = (g, p + jitter) if horizontal else (p + jitter, g)
            ax.scatter(*xy, s=22 if n < HORIZONTAL_FROM else 12, color=color, alpha=0.8, zorder=3)
    for p, g, m in zip(positions, groups, medians):
        text = "no result" if g is None else ("n/a" if m is None else f"{m:.2f} dB")
        where = ({"xy": (1.0, p), "xycoords": ("axes fraction", "data"), "xytext": (4, 0), "ha": "left", "va": "center"}
                 if horizontal else
                 {"xy": (p, 1.0), "xycoords": ("data", "axes fraction"), "xytext": (0, -4), "ha": "center",
                  "va": "top"})
        ax.annotate(text, textcoords="offset points", fontsize=size, fontweight="bold",
                    color="black" if g is not None else "grey", **where)
    if horizontal:
        if show_labels:  # the panels share their rows: the other panels only hide the names
            ax.set_yticks(positions, labels)
        else:
            ax.tick_params(axis="y", labelleft=False)
        ax.set_ylim(n + 0.6, 0.4)  # first group on top
        ax.tick_params(axis="y", labelsize=size)
        ax.margins(x=0.05)
    else:
        ax.set_xticks(positions, labels)
        ax.set_xlim(0.4, n + 0.6)
        ax.margins(y=0.18)


def plot_sdr_vs_epoch(results: str | os.PathLike, method: str = "mixture",
                      epochs: Sequence[int] | None = None, fig: Figure | None = None) -> Figure:
    """Per-track SDR box plots per target for each epoch checkpoint, median of medians written on top.

    ``epochs`` defaults to every epoch checkpoint in RESULTS/comparison.csv; a requested epoch
    without a result is shown as an empty, labelled slot.
    """
    rows = read_comparison(results)
    have = epoch_checkpoints(rows, method)
    if not have:
        raise Hw2sepError(f"no epoch checkpoint evaluated with method '{method}' in {Path(results) / 'comparison.csv'}")
    epochs = list(epochs) if epochs is not None else list(have)
    fig = _figure(fig=fig)
    horizontal = len(epochs) >= HORIZONTAL_FROM
    axes = fig.subplots(1, len(TARGETS), sharey=horizontal)
    for i, (ax, target) in enumerate(zip(axes, TARGETS)):
        groups = [_sdr_values(results, have[e], method, target) if e in have else None for e in epochs]
        medians = [(find_row(rows, have[e], method, target) or {}).get("SDR") if e in have else None for e in epochs]
        _boxes(ax, groups, medians, [f"epoch {e}" for e in epochs], COLORS[target], horizontal, i == 0)
        _style(ax, target, *(("SDR (dB)", None) if horizontal else ("checkpoint", "SDR (dB)")))
    fig.suptitle(f"Test SDR per track ({method_label(method)}); "
                 "bold: median of per-track medians", fontsize=TITLE)
    return fig


def plot_phase_comparison(results: str | os.PathLike, checkpoint: str,
                          methods: Sequence[str] | None = None, fig: Figure | None = None) -> Figure:
    """Per-track SDR of one checkpoint under each phase method, per target; grey lines pair each track (upright only).

    With many methods the boxes lie on their side, one method per row named once at the left.
    """
    rows = read_comparison(results)
    methods = list(methods) if methods else sorted({r["method"] for r in rows if r["checkpoint"] == checkpoint},
                                                   key=lambda m: (m != "mixture", m))
    if not methods:
        raise Hw2sepError(f"no results for checkpoint '{checkpoint}' in {Path(results) / 'comparison.csv'}")
    fig = _figure(fig=fig)
    horizontal = len(methods) >= HORIZONTAL_FROM
    axes = fig.subplots(1, len(TARGETS), sharey=horizontal)
    for i, (ax, target) in enumerate(zip(axes, TARGETS)):
        per_track = [{r["track"]: r["SDR"] for r in read_per_track(results, checkpoint, m) if r["target"] == target}
                     for m in methods]
        for track in per_track[0]:
            ys = [p.get(track) for p in per_track]
            if not horizontal and all(y is not None and math.isfinite(y) for y in ys):  # on their side: clutter
                ax.plot(np.arange(1, len(methods) + 1), ys, color="grey", alpha=0.35, lw=1)
        groups = [np.array([v for v in p.values() if v is not None and math.isfinite(v)]) for p in per_track]
        medians = [(find_row(rows, checkpoint, m, target) or {}).get("SDR") for m in methods]
        labels = [method_label(m, 45 if horizontal else 16) for m in methods]
        _boxes(ax, groups, medians, labels, COLORS[target], horizontal, i == 0)
        _style(ax, target, *(("SDR (dB)", None) if horizontal else (None, "SDR (dB)")))
    epoch = (find_row(rows, checkpoint, methods[0], TARGETS[0]) or {}).get("epoch")
    fig.suptitle(f"Mixture phase vs Griffin-Lim: {checkpoint}" + (f" (epoch {epoch})" if epoch else ""), fontsize=TITLE)
    return fig


def plot_per_track_sdr(results: str | os.PathLike, checkpoint: str, method: str = "mixture",
                       extremes: int | None = 10, fig: Figure | None = None) -> Figure:
    """One dot per track and target, tracks sorted by vocals SDR; dashed lines at the medians (over all tracks).

    With more than ``2 * extremes`` tracks only the worst and the best ``extremes`` are drawn (a gap
    line between them), so that 50 track names stay readable; ``extremes=None`` draws every track.
    The legend sits outside the axes, right of the plot.
    """
    rows = read_per_track(results, checkpoint, method)
    sdr = {t: {r["track"]: r["SDR"] for r in rows if r["target"] == t} for t in TARGETS}
    key = lambda name: sdr[TARGETS[0]].get(name) if sdr[TARGETS[0]].get(name) is not None else -math.inf  # noqa: E731
    tracks = sorted(sdr[TARGETS[0]], key=key)
    total = len(tracks)
    cut = extremes is not None and total > 2 * extremes
    if cut:
        tracks = tracks[:extremes] + tracks[-extremes:]
    fig = _figure(12.0, max(4.5, min(6.5, 1.5 + 0.3 * len(tracks))), fig)
    ax = fig.add_subplot()
    y = np.arange(len(tracks)) + ((np.arange(len(tracks)) >= extremes) if cut else 0)  # an empty row at the cut
    for target, marker in zip(TARGETS, ("o", "s")):
        values = np.array([np.nan if sdr[target].get(t) is None else sdr[target][t] for t in tracks], dtype=float)
        ax.scatter(values, y, s=70, marker=marker, color=COLORS[target], label=target, zorder=3)
        everything = np.array([v for v in sdr[target].values() if v is not None], dtype=float)
        if np.isfinite(everything).any():
            median = float(np.nanmedian(everything))
            ax.axvline(median, color=COLORS[target], ls="--", lw=1.5, label=f"{target} median {median:.2f} dB")
    if cut:
        ax.axhline(extremes, color="grey", ls=":", lw=1)
        ax.text(1.0, extremes, f" {total - 2 * extremes} tracks not shown ", transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=FONT - 2, color="grey", backgroundcolor="white")
    labelsize = max(SMALLEST, min(FONT - 1, int(260 / max(len(tracks), 1))))
    ax.set_yticks(y, [t[:40] for t in tracks])
    _style(ax, None, "SDR (dB): median over 1 s windows", None)
    ax.tick_params(axis="y", labelsize=labelsize)
    ax.legend(fontsize=FONT - 2, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    which = f"worst and best {extremes} of {total} tracks" if cut else f"{total} tracks"
    fig.suptitle(f"Per-track SDR: {checkpoint}, {method_label(method)} ({which})", fontsize=TITLE)
    return fig


def _log_magnitude(audio: np.ndarray, n_fft: int = 4096, hop: int = 1024) -> np.ndarray:
    """20 log10 |STFT| of the channel mean, for display (numpy: the report never imports torch; centred, periodic
    Hann window, as hw2sep.dsp.stft). Shape: (nb_channels, nb_samples) or (nb_samples,) -> (nb_bins, nb_frames)."""
    mono = np.asarray(audio, dtype=np.float32)
    mono = mono.mean(0) if mono.ndim == 2 else mono
    padded = np.pad(mono, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]  # (nb_frames, n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    mag = np.abs(np.fft.rfft(frames * window, axis=-1)).T
    return 20 * np.log10(mag + 1e-8)


def plot_spectrograms(signals: Mapping[str, np.ndarray], sample_rate: int = SAMPLE_RATE, max_hz: float = 8000.0,
                      dynamic_range_db: float = 80.0, title: str | None = None, fig: Figure | None = None) -> Figure:
    """Log-magnitude spectrograms (dB, one colour scale) of e.g. mixture / reference / estimate(s).

    Shape: each signal (nb_channels, nb_samples) or (nb_samples,), at ``sample_rate``.
    """
    if not signals:
        raise Hw2sepError("plot_spectrograms needs at least one signal")
    specs = {name: _log_magnitude(audio) for name, audio in signals.items()}
    top = max(float(s.max()) for s in specs.values())
    n = len(specs)
    cols = 2 if n == 4 else min(n, 3)
    rows = math.ceil(n / cols)
    fig = _figure(12.0, 3.0 * rows + 0.8 if rows > 1 else 4.6, fig)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    image = None
    for ax, (name, spec) in zip(axes, specs.items()):
        nb_bins, nb_frames = spec.shape
        seconds = np.asarray(next(iter(signals.values()))).shape[-1] / sample_rate
        bins = int(min(nb_bins, math.ceil(max_hz / (sample_rate / 2) * (nb_bins - 1)) + 1))
        image = ax.imshow(spec[:bins], origin="lower", aspect="auto", cmap="magma", vmin=top - dynamic_range_db,
                          vmax=top, extent=(0, seconds, 0, (bins - 1) * sample_rate / 2 / (nb_bins - 1)))
        _style(ax, name, "time (s)", "frequency (Hz)")
        ax.grid(False)
    for ax in axes[n:]:
        ax.set_visible(False)
    bar = fig.colorbar(image, ax=axes[:n].tolist(), shrink=0.9)
    bar.set_label("magnitude (dB)", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT - 1)
    if title:
        fig.suptitle(title, fontsize=TITLE)
    return fig


def plot_architecture(meta: dict, title: str | None = None, limit: int | None = 10_000_000,
                      fig: Figure | None = None) -> Figure:
    """The model's layers as a table (type, sizes, parameter count and share), with the total, from the
    ``architecture`` rows its checkpoint json carries (``hw2sep.models.architecture``)."""
    rows = meta.get("architecture") or []
    total = sum(r["parameters"] for r in rows)
    if not rows:
        raise Hw2sepError("the checkpoint json has no architecture rows (a checkpoint from an older hw2sep: train again)")
    cells = [[r["layer"], r["type"], r["details"], f"{r['parameters']:,}",
              f"{100 * r['parameters'] / total:.1f} %" if total else ""] for r in rows]
    cells.append(["total", "", "" if limit is None else f"limit {limit:,} ({'within' if total < limit else 'OVER'})",
                  f"{total:,}", "100 %"])
    fig = _figure(10.0, 0.8 + table_height([["x"]] * (len(cells) + 1)), fig)
    ax = fig.add_subplot()
    draw_table(ax, ["layer", "type", "details", "parameters", "share"], cells, (0.16, 0.15, 0.45, 0.14, 0.10),
               bold_rows=(len(cells),))
    ax.set_title(title or f"{meta.get('model', 'model')}: {total:,} trainable parameters", fontsize=TITLE)
    return fig


def plot_dataset_durations(durations: Mapping[str, Sequence[float]]) -> Figure:
    """Track counts and track durations (s) per subset, e.g. ``{"train": [...], "valid": [...], "test": [...]}``."""
    subsets = [s for s, d in durations.items() if len(d)]
    if not subsets:
        raise Hw2sepError("plot_dataset_durations: no tracks in any subset")
    fig = _figure()
    left, right = fig.subplots(1, 2, width_ratios=(1, 2))
    counts = [len(durations[s]) for s in subsets]
    bars = left.bar(subsets, counts, color="#30638e")
    left.bar_label(bars, [f"{c}" for c in counts], fontsize=FONT)
    left.margins(y=0.15)
    left.yaxis.get_major_locator().set_params(integer=True)
    _style(left, "tracks per subset", "subset", "tracks")
    right.boxplot([np.asarray(durations[s], float) for s in subsets], widths=0.5,
                  medianprops={"color": "black", "lw": 2}, **_HORIZONTAL)
    for i, s in enumerate(subsets, start=1):
        d = np.asarray(durations[s], float)
        right.scatter(d, i + np.random.default_rng(i).uniform(-0.12, 0.12, len(d)), s=20, alpha=0.7, zorder=3)
        right.annotate(f"{d.sum() / 60:.1f} min total", (1.0, i), xycoords=("axes fraction", "data"),
                       xytext=(-4, 14), textcoords="offset points", ha="right", fontsize=FONT - 1)
    right.set_yticks(np.arange(1, len(subsets) + 1), subsets)
    _style(right, "track durations", "duration (s)", None)
    fig.suptitle("Dataset", fontsize=TITLE)
    return fig


def draw_table(ax, header: Sequence[str], cells: Sequence[Sequence[str]], col_widths: Sequence[float] | None = None,
               fontsize: float = FONT, bold_rows: Sequence[int] = ()) -> None:
    """A table filling `ax`: shaded bold header, numbers right-aligned, text left-aligned.

    Rows are as tall as their most-lined cell ("\n" breaks lines). `bold_rows` are body rows
    (1 = first under the header) drawn like the header, e.g. a total.
    """
    from matplotlib.table import Table

    ax.axis("off")
    body = [[str(c) for c in row] for row in cells] or [["—"] * len(header)]
    rows = [[str(h) for h in header], *body]
    widths = list(col_widths or [1 / len(header)] * len(header))
    heights = np.array([1.3 * max(c.count("\n") + 1 for c in row) + 0.9 for row in rows])
    heights /= heights.sum()
    tab = Table(ax, bbox=(0, 0, 1, 1))
    width_in = ax.get_window_extent().width / ax.get_figure(root=True).dpi  # also inside a slide's SubFigure
    for r, row in enumerate(rows):
        strong = r == 0 or r in bold_rows
        for c, text in enumerate(row):
            cell = tab.add_cell(r, c, widths[c], heights[r], text=text, loc="right" if r and _is_number(text) else "left",
                                facecolor="#e8eef4" if strong else "white", edgecolor="#bbbbbb")
            size = fit_fontsize(text, widths[c] * width_in, fontsize - (r == 0), strong)
            cell.set_text_props(fontsize=size, fontweight="bold" if strong else "normal", linespacing=1.3)
    tab.auto_set_font_size(False)
    ax.add_table(tab)


def fit_fontsize(text: str, width_in: float, fontsize: float, bold: bool = False, smallest: float = SMALLEST) -> float:
    """`fontsize`, reduced until the longest line of `text` fits `width_in` inches with the cell's padding.

    Widths are estimated for DejaVu Sans: ~0.60 em per character (0.66 em bold).
    """
    longest = max((len(line) for line in str(text).split("\n")), default=0)
    room = width_in * 0.78 * 72  # matplotlib pads 10 % of the cell width on each side, plus a margin
    em = 0.66 if bold else 0.60
    while fontsize > smallest and longest * em * fontsize > room:
        fontsize -= 0.5
    return fontsize


def table_height(cells: Sequence[Sequence[str]], fontsize: float = FONT) -> float:
    """Inches a `draw_table` of these rows (header included) needs at `fontsize`."""
    return sum(fontsize / 72 * (1.3 * max(str(c).count("\n") + 1 for c in row) + 0.9) for row in cells)


def _is_number(text: str) -> bool:
    """True for cells like '4.21', '-0.35', '8,897,602', '12.5 %', '3.10 dB' or '-13.25 (-1.74)'."""
    first = text.split(" (")[0]
    core = first.replace(",", "").replace("%", "").replace("dB", "").strip().lstrip("+-−")
    return core.replace(".", "", 1).isdigit()
