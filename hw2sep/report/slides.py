"""16:9 slides drawn with matplotlib into one PDF: titles, bullet text, tables, images and notes.

Pages are 13.333 x 7.5 in (PowerPoint's 16:9). Fonts are embedded as TrueType (``pdf.fonttype`` 42),
and figures are drawn into the slide itself (``panel``), so every word and number on a slide, in its
figures too, is vector text that can be searched. Rectangles are (left, bottom, width, height) in
page fractions; nothing but the footer goes below ``FOOTER_TOP``.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from hw2sep.common.files import atomic_path
from hw2sep.report.plots import draw_table, table_height

PAGE = (13.333, 7.5)
BODY = (0.05, 0.08, 0.90, 0.72)  # under the title, above the footer
FOOTER_TOP = 0.065  # page fraction: the footer line's top; slide content stays above it
CONT = " (cont.)"  # title suffix of a slide that continues a table
ACCENT, GREY = "#30638e", "#666666"


class Deck:
    """A PDF of slides, written atomically: use as ``with Deck(path, footer) as deck: fig = deck.slide(...)``."""

    def __init__(self, path: str | os.PathLike, footer: str = "", metadata: dict | None = None):
        self.path, self.footer, self.metadata = Path(path), footer, metadata or {}
        self.titles: list[str] = []
        self._pending: Figure | None = None

    def __enter__(self) -> "Deck":
        self._rc = matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"})
        self._rc.__enter__()
        self._atomic = atomic_path(self.path, suffix=".pdf")
        self._pdf = PdfPages(self._atomic.__enter__(), metadata=self.metadata)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._flush()
            self._pdf.close()
            self._atomic.__exit__(*exc)
        finally:
            self._rc.__exit__(*exc)

    def slide(self, title: str, subtitle: str | None = None) -> Figure:
        """Start a new page (the previous one is written) with its title bar and footer."""
        self._flush()
        fig = Figure(figsize=PAGE)
        if title:
            fig.text(0.05, 0.925, title, fontsize=30, fontweight="bold", color=ACCENT, va="center")
            if subtitle:  # one line: a long subtitle gets smaller type (DejaVu Sans, ~0.58 em per character)
                size = max(10.0, min(16.0, 0.9 * PAGE[0] * 72 / (0.58 * max(len(subtitle), 1))))
                fig.text(0.05, 0.865, subtitle, fontsize=size, color=GREY, va="center")
            fig.add_artist(matplotlib.lines.Line2D([0.05, 0.95], [0.895 if not subtitle else 0.835] * 2,
                                                   color=ACCENT, lw=2, transform=fig.transFigure))
        self.titles.append(title)
        fig.text(0.95, 0.03, f"{len(self.titles)}", fontsize=12, color=GREY, ha="right")
        if self.footer:
            fig.text(0.05, 0.03, self.footer, fontsize=12, color=GREY)
        self._pending = fig
        return fig

    def _flush(self) -> None:
        if self._pending is not None:
            self._pdf.savefig(self._pending)
            self._pending = None


def wrap(text: str, width_in: float, fontsize: float) -> str:
    """Wrap `text` to lines that fit `width_in` inches at `fontsize` points (DejaVu Sans, ~0.55 em per char)."""
    chars = max(10, int(width_in * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(part, chars) for part in text.split("\n"))


def bullets(fig: Figure, items: Sequence[str], rect: Sequence[float] = BODY, fontsize: float = 18,
            gap: float = 0.5, min_fontsize: float = 11) -> float:
    """Bulleted paragraphs from the top of `rect` down, shrunk (to `min_fontsize`) until they fit; returns the end y.

    Items starting with two spaces are indented sub-points.
    """
    size = fontsize
    while size > min_fontsize and _place(items, rect, size, gap)[1] < rect[1]:
        size -= 1
    placed, end = _place(items, rect, size, gap)
    for x, y, text, item_size, sub in placed:
        fig.text(x - 0.02, y, "–" if sub else "•", fontsize=item_size, va="top", color=ACCENT)
        fig.text(x, y, text, fontsize=item_size, va="top", linespacing=1.25)
    return end


def split_items(items: Sequence[str], rect: Sequence[float] = BODY, gap: float = 0.5,
                min_fontsize: float = 11) -> list[list[str]]:
    """`items` cut into groups that each fit `rect` as `bullets` at `min_fontsize`: one slide each ("(cont.)")."""
    pages, page = [], []
    for item in items:
        if page and _place([*page, item], rect, min_fontsize, gap)[1] < rect[1]:
            pages.append(page)
            page = []
        page.append(item)
    return [*pages, page]


def bullet_slides(deck: "Deck", title: str, subtitle: str | None, items: Sequence[str], rect: Sequence[float] = BODY,
                  fontsize: float = 18, gap: float = 0.5, min_fontsize: float = 11) -> None:
    """Bulleted items on a new slide, continued on "(cont.)" slides while they do not fit."""
    for page, part in enumerate(split_items(items, rect, gap, max(min_fontsize, fontsize - 3))):
        fig = deck.slide(title + (CONT if page else ""), subtitle)
        bullets(fig, part, rect, fontsize, gap, min_fontsize)


def _place(items: Sequence[str], rect: Sequence[float], fontsize: float, gap: float) -> tuple[list, float]:
    """Where each wrapped item goes at `fontsize`: [(x, y, text, size, is_sub)], and the y below the last."""
    left, bottom, width, height = rect
    y, line, placed = bottom + height, fontsize / 72 / PAGE[1] * 1.35, []
    for item in items:
        sub = item.startswith("  ")
        indent, size = (0.03, fontsize - 2) if sub else (0.0, fontsize)
        text = wrap(item.strip(), (width - indent - 0.02) * PAGE[0], size)
        placed.append((left + indent + 0.02, y, text, size, sub))
        y -= line * (text.count("\n") + 1) * (size / fontsize) + line * gap
    return placed, y + line * gap


def note(fig: Figure, text: str, rect: Sequence[float] = BODY, fontsize: float = 18) -> None:
    """A grey, boxed message centred in `rect`: what is missing and which step produces it."""
    left, bottom, width, height = rect
    fig.text(left + width / 2, bottom + height / 2, wrap(text, width * PAGE[0] * 0.8, fontsize), fontsize=fontsize,
             color=GREY, ha="center", va="center", style="italic",
             bbox={"boxstyle": "round,pad=0.8", "facecolor": "#f4f4f4", "edgecolor": "#cccccc"})


def table(fig: Figure, header: Sequence[str], rows: Sequence[Sequence[str]], left: float, top: float, width: float,
          fontsize: float = 18, col_widths: Sequence[float] | None = None, title: str | None = None) -> float:
    """A table hanging from (`left`, `top`), as tall as its rows need; `title` above it. Returns its bottom y."""
    height = table_height([header, *rows], fontsize) / PAGE[1]
    ax = fig.add_axes((left, top - height, width, height))
    if title:
        ax.set_title(title, fontsize=fontsize, loc="left", color=ACCENT, fontweight="bold")
    draw_table(ax, header, rows, col_widths, fontsize)
    return top - height


def split_rows(header: Sequence[str], rows: Sequence[Sequence[str]], fontsize: float, top: float,
               bottom: float = BODY[1]) -> list[list[Sequence[str]]]:
    """`rows` cut into pages of tables (header repeated) that fit between `top` and `bottom` (page fractions).

    Always at least one page, and at least one row per page.
    """
    room = (top - bottom) * PAGE[1] - table_height([header], fontsize)
    pages, page, used = [], [], 0.0
    for row in rows:
        need = table_height([row], fontsize)
        if page and used + need > room:
            pages.append(page)
            page, used = [], 0.0
        page.append(row)
        used += need
    return [*pages, page]


def panel(fig: Figure, rect: Sequence[float]) -> SubFigure:
    """A SubFigure filling `rect` of the slide, laid out (constrained) inside it: plots draw into it as vectors.

    The slide's own text, tables and other panels keep their places; only the panel's axes are laid out.
    """
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained", w_pad=0, h_pad=0, wspace=0, hspace=0)
    left, bottom, width, height = rect
    grid = fig.add_gridspec(3, 3, width_ratios=(left, width, max(1e-6, 1 - left - width)),
                            height_ratios=(max(1e-6, 1 - bottom - height), height, max(1e-6, bottom)))
    return fig.add_subfigure(grid[1, 1])


def pipeline(fig: Figure, steps: Sequence[str], y: float = 0.70, height: float = 0.13) -> None:
    """Boxes joined by arrows across the page: the processing chain at a glance."""
    n = len(steps)
    gap, left = 0.02, 0.05
    width = (0.90 - gap * (n - 1)) / n
    for i, step in enumerate(steps):
        x = left + i * (width + gap)
        fig.add_artist(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.005", transform=fig.transFigure,
                                      facecolor="#e8eef4", edgecolor=ACCENT, lw=1.5))
        size = 13
        lines = lambda s: wrap(step, width * PAGE[0] * 0.9, s).count("\n") + 1  # noqa: E731
        while size > 9 and lines(size) * size * 1.25 > height * PAGE[1] * 66:
            size -= 1  # a long step gets smaller type, never more lines than the box holds
        fig.text(x + width / 2, y + height / 2, wrap(step, width * PAGE[0] * 0.9, size), fontsize=size,
                 ha="center", va="center")
        if i:
            fig.add_artist(FancyArrowPatch((x - gap, y + height / 2), (x, y + height / 2), transform=fig.transFigure,
                                           arrowstyle="-|>", mutation_scale=14, color=ACCENT))
