"""Checks on a matplotlib figure before it is rendered, shared by the tests of every picture
(tests/course/test_plot.py, test_diagrams.py, tests/trace/test_packets.py)."""

from __future__ import annotations

import itertools

SHOWN_WIDTH_PX = 1000  # what JupyterLab shows unshrunk at the default zoom


def labels(fig) -> list:
    """Every text of the figure with something to read: the axes' texts, titles, legend entries."""
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += [*ax.texts, ax.title, *(ax.get_legend().get_texts() if ax.get_legend() else [])]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def assert_fits(fig, overlapping=()) -> None:
    """No two labels overlap (but the pairs listed in ``overlapping``, by gid or text: flaws
    known and named, which must still be there), nothing is drawn outside the figure, and it is
    shown at most SHOWN_WIDTH_PX wide: from the layout alone (no pixel is rendered)."""
    fig.draw_without_rendering()  # places what is placed at draw time (the legend)
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    tight = fig.get_tightbbox(renderer)  # what IPython's inline PNG keeps, plus a 0.1 in margin
    assert width <= SHOWN_WIDTH_PX and (tight.width + 0.2) * fig.dpi <= SHOWN_WIDTH_PX
    boxes = [(t.get_gid() or t.get_text(), t.get_window_extent(renderer)) for t in labels(fig)]
    found = {frozenset({a, b}) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)}
    assert found == {frozenset(pair) for pair in overlapping}
    drawn = [*labels(fig), *fig.patches]
    for ax in fig.axes:
        drawn += [*ax.patches, *ax.lines, *(ax.get_legend() and [ax.get_legend()] or [])]
        drawn += [t.arrow_patch for t in ax.texts if getattr(t, "arrow_patch", None)]
    outside = [artist for artist in drawn if not _within(artist.get_window_extent(renderer), fig.bbox, 1)]
    assert outside == []


def _within(inner, outer, tol=0.0) -> bool:
    return (inner.x0 >= outer.x0 - tol and inner.y0 >= outer.y0 - tol
            and inner.x1 <= outer.x1 + tol and inner.y1 <= outer.y1 + tol)


def _rect(patch) -> tuple:
    x, y = patch.get_x(), patch.get_y()
    return x, y, x + patch.get_width(), y + patch.get_height()
