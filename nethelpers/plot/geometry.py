"""Where a wire leaves a box, bar or pill (rectangles in inches), and how big a text is."""

from __future__ import annotations


def _text_size(lines: list[str], pt: float) -> tuple[float, float]:
    return max(map(len, lines)) * pt * 0.57 / 72 + 0.08, len(lines) * pt * 1.3 / 72 + 0.06


def _toward(r, p, flat=False):
    """The point of rectangle r's border facing p; wires leave a flat r (bar, pill) by top or bottom."""
    x0, y0, x1, y1 = r
    px, py = p
    if x0 <= px <= x1 or flat and not y0 <= py <= y1:
        return min(max(px, x0 + 0.1), x1 - 0.1) if flat else px, (y1 if py > y1 else y0)
    if y0 <= py <= y1:
        return (x1 if px > x1 else x0), py
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    t = min((x1 - x0) / 2 / abs(px - cx), (y1 - y0) / 2 / abs(py - cy))
    return cx + t * (px - cx), cy + t * (py - cy)


def _connect(a, b, flat_a=False, flat_b=False):
    """Anchor points on rectangles a and b for a wire between them, straight where they face."""
    for i in (0, 1):  # 0: they overlap in x, a vertical wire; 1: in y, a horizontal one
        lo, hi, j = max(a[i], b[i]), min(a[i + 2], b[i + 2]), 1 - i
        if lo < hi and (a[j] >= b[j + 2] or b[j] >= a[j + 2]):
            mid = (lo + hi) / 2
            pa = (mid, (b[1] + b[3]) / 2) if i == 0 else ((b[0] + b[2]) / 2, mid)
            pb = (mid, (a[1] + a[3]) / 2) if i == 0 else ((a[0] + a[2]) / 2, mid)
            return _toward(a, pa), _toward(b, pb)
    if flat_b and not flat_a:  # a box to a bar off to one side: leave by the box's near corner,
        pb, pa = _corner_wire(b, a)  # so that its label clears the labels of wires going straight up
        return pa, pb
    if flat_a and not flat_b:
        return _corner_wire(a, b)
    pa = _toward(a, ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2), flat_a)
    return pa, _toward(b, pa, flat_b)


def _corner_wire(bar, box):
    """Anchors of a diagonal wire from a bar to a box: the box's corner nearest the bar."""
    right = (bar[0] + bar[2]) / 2 > (box[0] + box[2]) / 2
    above = bar[1] >= box[3]
    corner = (box[2] - 0.1 if right else box[0] + 0.1, box[3] if above else box[1])
    return _toward(bar, corner, True), corner
