"""Draw a lab snapshot the way a learner sketches it (see :func:`draw`).

Sizes are in inches at the natural scale; the picture, fonts included, is then
scaled to fit the figure.

Every artist drawn carries a gid naming what it shows (invisible in a PNG; tests/course/test_plot.py
reads the picture's structure from them): ``node:N`` a machine's box, ``bridge:N:BR`` a bridge's
bar, ``link:N:IF`` a pill, ``wire:N:IF|M:IF2`` a cable from its first end, ``tunnel:…`` a VXLAN
tunnel; ``label:node:N``, ``label:end:N:IF``, ``label:bridge:…``, ``label:link:…``,
``label:tunnel:…`` and ``badge:N`` their texts.

The picture is made by ``sketch`` (boxes, bars and pills measured, placed and drawn) from what
``wiring`` reads of the snapshot (each link end, what it is wired to, VXLAN tunnels), with
``geometry`` (where a wire leaves a box) and ``style`` (colours and sizes).
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import i18n
from ..i18n import layout
from . import fonts  # noqa: F401  (every picture: Chinese labels find their glyphs)
from .sketch import _Sketch
from .style import BIG, HIGHLIGHT
from .wiring import only

__all__ = ["HIGHLIGHT", "MAX_WIDTH_PX", "blank", "draw", "fit_width", "only"]


# JupyterLab shows a picture at its pixel size up to the width of the notebook (about 1000 px at
# the default zoom) and shrinks anything wider, labels and all: keep every picture within it
# (IPython's inline PNG is cropped to what is drawn, plus a margin: 0.5 in is allowed for it)
MAX_WIDTH_PX = 960


def fit_width(fig: Figure) -> Figure:
    """``fig`` rendered at most MAX_WIDTH_PX wide: a lower resolution for a wide picture, its
    layout (in inches) unchanged. Every picture of the course goes through it."""
    fig.set_dpi(min(fig.get_dpi(), MAX_WIDTH_PX / (fig.get_figwidth() + 0.5)))
    return fig


def blank(width: float, height: float, title: str | None = None):
    """An empty picture ``width`` x ``height`` inches whose axes count in inches from the lower left,
    the title above them, shown at most MAX_WIDTH_PX wide: (figure, axes) for a diagram drawn by hand."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.9 if title else 0.98))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height * (0.9 if title else 0.98))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=12)
    return fit_width(fig), ax


def draw(snapshot: dict, *, title: str | None = None, highlight: list | None = None,
         figsize=None, exact: bool = False, badges: dict | None = None,
         highlight_label: str = i18n.N_("highlighted")) -> Figure:
    """Draw a ``lab.snapshot()``: machines as boxes (containers inside their host), bridges
    as bars, veth pairs as wires labelled with names and addresses, vxlan/macvlan dashed.

    ``highlight`` lists node names and ``(node, ifname)`` pairs to emphasise, e.g. a
    packet's path (``exact``: a wire lights up only when both its ends are listed);
    ``badges`` puts a numbered disc on nodes ({node: "1"}); the legend names the highlight
    ``highlight_label`` ("the packet's path"). ``figsize`` defaults to the picture's natural size, at most 16 x 11 in,
    shown at most MAX_WIDTH_PX wide (:func:`fit_width`).
    """
    fig = Figure(figsize=figsize or (5, 3))
    FigureCanvasAgg(fig)
    if not snapshot:
        fig.text(0.5, 0.5, "empty lab", ha="center", va="center", fontsize=14, color="#888888")
        fig.suptitle(title or "")
        return fit_width(fig)
    sketch = _Sketch(snapshot, big=len(snapshot) > BIG)
    sketch.layout()
    rects = np.array(list(sketch.rect.values()))
    (x0, y0), (x1, y1) = rects[:, :2].min(axis=0) - 0.25, rects[:, 2:].max(axis=0) + 0.25
    top, bottom, side = (0.45 if title else 0.1), 0.35, 0.1
    if figsize is None:  # the natural size, shrunk to fit 16 x 11 in
        scale = min(1.0, (16 - 2 * side) / (x1 - x0), (11 - top - bottom) / (y1 - y0))
        figsize = (max(5, (x1 - x0) * scale + 2 * side), max(3, (y1 - y0) * scale + top + bottom))
    else:
        scale = min(1.5, (figsize[0] - 2 * side) / (x1 - x0), (figsize[1] - top - bottom) / (y1 - y0))
    fig.set_size_inches(figsize)
    width, height = figsize[0] - 2 * side, figsize[1] - top - bottom
    ax = fig.add_axes((side / figsize[0], bottom / figsize[1], width / figsize[0], height / figsize[1]))
    ax.set_axis_off()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - width / scale / 2, cx + width / scale / 2)
    ax.set_ylim(cy - height / scale / 2, cy + height / scale / 2)
    handles = sketch.draw(ax, scale, list(highlight or []), exact=exact, badges=badges)
    if highlight or badges:  # the red says what it means
        handles.append(Line2D([], [], color=HIGHLIGHT, lw=3, label=i18n._(highlight_label)))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=len(handles),
              frameon=False, fontsize=7, handlelength=1.8, columnspacing=1.2)
    if title:  # wrapped to the picture's width: a long title would widen the PNG past it
        ax.set_title("\n".join(layout.wrap(title, max(40, int(figsize[0] * 9.5)))), fontsize=12)
    fit_width(fig)
    _separate_labels(fig, ax)
    return fig


def _separate_labels(fig: Figure, ax) -> None:
    """Slide each interface label that overlaps another text along its cable, away from the other
    text, until it overlaps none (two labels at the ends of a short cable, say): it stays on its cable."""
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_visible() and t.get_text().strip()]
    cables = {}  # end "N:IF" -> (its point, the other end's point), in pixels
    for line in ax.lines:
        gid = line.get_gid() or ""
        if gid.startswith("wire:"):
            a, b = gid.removeprefix("wire:").split("|")
            pa, pb = ax.transData.transform(line.get_xydata())
            cables.setdefault(a, (pa, pb))
            cables.setdefault(b, (pb, pa))
    for label in [t for t in texts if (t.get_gid() or "").startswith("label:end:")]:
        cable = cables.get(label.get_gid().removeprefix("label:end:"))
        if cable is None:
            continue
        direction = (cable[1] - cable[0]) / max(np.hypot(*(cable[1] - cable[0])), 1e-9)
        start = label.get_position()

        def clash():
            box = label.get_window_extent(renderer)
            return next((o.get_window_extent(renderer) for o in texts
                         if o is not label and _overlaps(box, o.get_window_extent(renderer))), None)

        def move(dx, dy):
            x, y = ax.transData.transform(label.get_position())
            label.set_position(ax.transData.inverted().transform((x + dx, y + dy)))

        for _ in range(40):  # along the cable, away from what it touches
            other = clash()
            if other is None:
                break
            box = label.get_window_extent(renderer)
            away = np.array([(box.x0 + box.x1) - (other.x0 + other.x1), (box.y0 + box.y1) - (other.y0 + other.y1)])
            move(*(3 * direction * (1 if away @ direction >= 0 else -1)))
        else:  # no room along it (a short cable among others): beside it, the nearest clear place
            label.set_position(start)
            height = label.get_window_extent(renderer).height
            for offset in (0.6, -0.6, 1.2, -1.2, 1.8, -1.8):
                label.set_position(start)
                move(-direction[1] * offset * height, direction[0] * offset * height)
                if clash() is None:
                    break
            else:
                label.set_position(start)


def _overlaps(a, b) -> bool:
    """Closer than a pixel (touching counts: a reader sees one blob)."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > -1 and min(a.y1, b.y1) - max(a.y0, b.y0) > -1
