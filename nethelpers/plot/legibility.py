"""Is a picture readable? Labels that overlap, and labels too small to read at the size shown.

The course's pictures are checked as they are drawn in a notebook when ``NETHELPERS_CHECK_FIGURES``
is set (the tests and ``scripts/run_notebooks.py`` set it): a problem is written to the cell's
stderr, which nbval then finds in a cell whose stored output has none.
"""

from __future__ import annotations

import os
import sys

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

CHECK_VARIABLE = "NETHELPERS_CHECK_FIGURES"
MIN_TEXT_PX = 5.5      # a label's font size (em) in pixels as the PNG shows it: below, it is unreadable
OVERLAP_PX = 1.5       # two labels may touch by this much (anti-aliasing), not more
PREFIX = "figure check:"


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is fig]


def problems(fig: Figure) -> list[str]:
    """What makes ``fig`` hard to read, one line each (none: readable)."""
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure(): measure it as its PNG will be drawn
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # (a legend places its texts only when drawn)
    renderer = fig.canvas.get_renderer()
    boxes = [(t, t.get_window_extent(renderer)) for t in _texts(fig)]
    found = []
    for text, _ in boxes:
        size = text.get_fontsize() * fig.dpi / 72
        if size < MIN_TEXT_PX:
            found.append(f"{text.get_text()!r} is {size:.1f} px high (at least {MIN_TEXT_PX:g})")
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if width > OVERLAP_PX and height > OVERLAP_PX:
                found.append(f"{a.get_text()!r} and {b.get_text()!r} overlap")
    return found


def report(fig: Figure) -> None:
    """With NETHELPERS_CHECK_FIGURES set, say on stderr what makes ``fig`` hard to read."""
    if os.environ.get(CHECK_VARIABLE):
        for problem in problems(fig):
            print(f"{PREFIX} {problem}", file=sys.stderr)


def png(fig: Figure) -> bytes:
    """``fig`` as the PNG a notebook shows (cropped to what is drawn), checked first (:func:`report`)."""
    from IPython.core.pylabtools import print_figure

    report(fig)
    return print_figure(fig, "png", bbox_inches="tight")
