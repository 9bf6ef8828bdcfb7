"""Draw a lab snapshot the way a learner sketches it.

Machines are rounded boxes (containers inside their host), bridges are dark bars,
veth pairs are wires labelled at each end, vxlan and macvlan links are dashed.
Every size below is in inches at the natural scale; the whole picture is then
scaled (fonts included) to fit the figure.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch

COLOURS = {  # node kind -> (fill, edge)
    "host": ("#dce9f7", "#3b6ea5"), "container": ("#fde6c8", "#c47a1e"),
    "router": ("#dcf1d4", "#3f8a36"), "switch": ("#e8e0f8", "#6b4fa8"),
    "server": ("#f8dcdb", "#b0413e"), "client": ("#fbf3c6", "#9c8a1b"),
    "node": ("#ececec", "#666666"),
}
BAR, PILL, WIRE, HIGHLIGHT = "#4a4a4a", "#ffffff", "#333333", "#e6194b"
BIG = 40          # more nodes than this: small text and no interface labels
PAD, GAP = 0.14, 0.3


def _ends(snapshot: dict) -> dict:
    """(node, ifname) -> (kind, target (node, ifname) or None, label lines) for each link but lo."""
    ends = {}
    for name in sorted(snapshot):
        snap = snapshot[name]
        names = {link["index"]: link["name"] for link in snap["links"]}
        owner = {a["address"].split("/")[0]: a["dev"] for a in snap["addresses"]}
        for link in snap["links"]:
            kind, ifname = link["kind"], link["name"]
            if kind == "loopback":
                continue
            target = None
            if link.get("peer_node") in snapshot and link.get("peer"):
                target = (link["peer_node"], link["peer"])
            elif kind in ("veth", "macvlan", "vxlan") and (link.get("link") or link.get("link_index") in names):
                target = (name, link.get("link") or names[link["link_index"]])
            elif kind == "vxlan" and owner.get(link.get("local")):
                target = (name, owner[link["local"]])
            addrs = sorted((a["family"] != "inet", a["address"]) for a in snap["addresses"]
                           if a["dev"] == ifname and not a["address"].startswith("fe80:"))
            head = ifname + {"vxlan": f" VNI {link.get('vni')}",
                             "macvlan": f" macvlan {link.get('mode') or ''}".rstrip()}.get(kind, "")
            ends[(name, ifname)] = (kind, target, [head] + [a for _, a in addrs], link.get("master"))
    return ends


def _text_size(lines: list[str], pt: float) -> tuple[float, float]:
    return max(map(len, lines)) * pt * 0.6 / 72 + 0.08, len(lines) * pt * 1.3 / 72 + 0.06


def _toward(r, p):
    """The point of rectangle r's border that faces point p (straight across when possible)."""
    x0, y0, x1, y1 = r
    px, py = p
    if x0 <= px <= x1:
        return px, (y1 if py > y1 else y0)
    if y0 <= py <= y1:
        return (x1 if px > x1 else x0), py
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    t = min((x1 - x0) / 2 / abs(px - cx), (y1 - y0) / 2 / abs(py - cy))
    return cx + t * (px - cx), cy + t * (py - cy)


def _connect(a, b):
    """Anchor points on rectangles a and b for a wire between them (vertical/horizontal if they face)."""
    for i in (0, 1):  # 0: overlap in x -> vertical wire; 1: overlap in y -> horizontal wire
        lo, hi = max(a[i], b[i]), min(a[i + 2], b[i + 2])
        j = 1 - i
        if lo < hi and (a[j] >= b[j + 2] or b[j] >= a[j + 2]):
            mid = (lo + hi) / 2
            pa = (mid, (b[1] + b[3]) / 2) if i == 0 else ((b[0] + b[2]) / 2, mid)
            pb = (mid, (a[1] + a[3]) / 2) if i == 0 else ((a[0] + a[2]) / 2, mid)
            return _toward(a, pa), _toward(b, pb)
    pa = _toward(a, ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2))
    return pa, _toward(b, pa)


class _Sketch:
    """Measures and places every box, bar and pill, then draws them on an Axes."""

    def __init__(self, snapshot: dict, big: bool) -> None:
        self.snap, self.big = snapshot, big
        self.pt = 6.0 if big else 8.0
        self.ends = _ends(snapshot)
        self.parent = {n: s.get("parent") for n, s in snapshot.items() if s.get("parent") in snapshot}
        self.children = {n: sorted(c for c, p in self.parent.items() if p == n) for n in snapshot}
        self.place_of = {}   # (node, ifname) -> "bar" | "pill" | "border" | (node, bridge)
        for (node, ifname), (kind, target, _, master) in self.ends.items():
            if kind == "bridge":
                self.place_of[(node, ifname)] = "bar"
            elif master and self.ends.get((node, master), ("",))[0] == "bridge":
                self.place_of[(node, ifname)] = (node, master)
            elif target and not self._inside(target[0], node):
                self.place_of[(node, ifname)] = "border"
            else:
                self.place_of[(node, ifname)] = "pill"
        lines = [v[2] for v in self.ends.values()]
        self.label_w = max([_text_size(x, self.pt)[0] for x in lines] + [0.3])
        self.label_h = max([_text_size(x, self.pt)[1] for x in lines] + [0.2])
        self.vgap = 0.35 if big else 2 * self.label_h + 0.25
        self.size, self.rect = {}, {}   # rect: node or (node, ifname) -> (x0, y0, x1, y1)

    def _inside(self, node: str, ancestor: str) -> bool:
        while node is not None and node != ancestor:
            node = self.parent.get(node)
        return node == ancestor

    def root(self, node: str) -> str:
        while node in self.parent:
            node = self.parent[node]
        return node

    def items(self, node: str) -> list:
        """The bars and pills of a node's inner row, bridges first."""
        mine = sorted((0 if p == "bar" else 1, k[1]) for k, p in self.place_of.items()
                      if k[0] == node and p in ("bar", "pill"))
        return [(node, ifname) for _, ifname in mine]

    def item_size(self, key) -> tuple[float, float]:
        lines = self.ends[key][2]
        if self.place_of[key] == "bar":
            lines = [lines[0] if self.big else "  ".join(lines)]
        elif self.big:
            lines = lines[:1]
        w, h = _text_size(lines, self.pt)
        return w + 0.1, h + 0.04

    def element(self, key):
        """What a link end is drawn on: its bar or pill, its bridge's bar, or its node's box."""
        where = self.place_of[key]
        return key if where in ("bar", "pill") else where if isinstance(where, tuple) else key[0]

    def rows(self, node: str) -> tuple[list, list]:
        """Children above and below the inner row (two rows once there are more than four),
        each child under the bar or pill it is wired to."""
        order = {key: i for i, key in enumerate(self.items(node))}

        def rank(child):
            return min([order[self.element(t)] for k, (_, t, _, _) in self.ends.items()
                        if k[0] == child and t and self.element(t) in order], default=len(order)), child

        kids = sorted(self.children[node], key=rank)
        half = len(kids) // 2 if len(kids) > 4 else 0
        return kids[:half], kids[half:]

    def measure(self, node: str) -> tuple[float, float]:
        title_w, title_h = _text_size([node], self.pt + 1)
        ports = [self.ends[k][2] for k, p in self.place_of.items() if k[0] == node and p == "border"]
        widths = [title_w] + ([] if self.big else [_text_size(x, self.pt)[0] for x in ports])
        items = [self.item_size(k) for k in self.items(node)]
        height = 0.0
        if items:
            widths.append(sum(w for w, _ in items) + GAP * (len(items) - 1))
            height += max(h for _, h in items)
        for row in self.rows(node):
            if row:
                sizes = [self.measure(c) for c in row]
                widths.append(sum(w for w, _ in sizes) + GAP * (len(row) - 1))
                height += max(h for _, h in sizes) + (self.vgap if height else 0)
        self.size[node] = (max(widths) + 2 * PAD, height + title_h + 2 * PAD + (PAD if height else 0))
        return self.size[node]

    def place(self, node: str, cx: float, cy: float) -> None:
        w, h = self.size[node]
        self.rect[node] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        top = cy + h / 2 - PAD - _text_size([node], self.pt + 1)[1] - PAD
        above, below = self.rows(node)
        items = self.items(node)
        for row in (above, items, below):
            if not row:
                continue
            sizes = [self.item_size(k) if isinstance(k, tuple) else self.size[k] for k in row]
            spare = w - 2 * PAD - sum(s[0] for s in sizes) - GAP * (len(row) - 1)
            bars = sum(self.place_of.get(k) == "bar" for k in row)
            x, row_h = cx - w / 2 + PAD + (0 if bars else spare / 2), max(s[1] for s in sizes)
            for key, (iw, ih) in zip(row, sizes):
                iw += spare / bars if self.place_of.get(key) == "bar" else 0
                if isinstance(key, tuple):
                    self.rect[key] = (x, top - row_h / 2 - ih / 2, x + iw, top - row_h / 2 + ih / 2)
                else:
                    self.place(key, x + iw / 2, top - row_h / 2)
                x += iw + GAP
            top -= row_h + self.vgap

    def layout(self) -> None:
        """Lay the top-level machines out with networkx, then spread them until no boxes overlap."""
        roots = sorted(n for n in self.snap if n not in self.parent)
        for r in roots:
            self.measure(r)
        graph = nx.Graph()
        graph.add_nodes_from(roots)
        gap = 0.6 if self.big else 2 * self.label_w + 0.4
        for (node, _), (_, target, _, _) in sorted(self.ends.items()):
            a, b = self.root(node), target and self.root(target[0])
            if target and a != b:
                graph.add_edge(*sorted((a, b)), len=(max(self.size[a]) + max(self.size[b])) / 2 + gap)
        if len(roots) > BIG:
            pos = nx.spring_layout(graph, seed=7, iterations=60)
        else:
            pos = nx.kamada_kawai_layout(graph, weight="len") if len(roots) > 1 else {roots[0]: (0, 0)}
        xy = np.array([pos[r] for r in roots], dtype=float)
        xy -= xy.mean(axis=0)
        if len(roots) > 1:  # main axis horizontal, first machine on the left
            axis = np.linalg.svd(xy, full_matrices=False)[2][0]
            axis = axis if axis @ (xy[-1] - xy[0]) >= 0 else -axis
            xy = xy @ np.array([[axis[0], -axis[1]], [axis[1], axis[0]]])
            wh = np.array([self.size[r] for r in roots])
            linked = np.array([[graph.has_edge(a, b) for b in roots] for a in roots])
            need = (wh[:, None, :] + wh[None, :, :]) / 2 + np.where(linked, gap, GAP * 2)[..., None]
            dist = np.maximum(np.abs(xy[:, None, :] - xy[None, :, :]), 1e-6)
            pair = (need / dist).min(axis=2)
            np.fill_diagonal(pair, 0)
            xy *= pair.max()
        for r, (x, y) in zip(roots, xy):
            self.place(r, x, y)
