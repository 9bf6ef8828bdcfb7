"""A lab's picture: every box, bar and pill measured, placed (networkx lays out the machines) and
drawn on an Axes, with its wires, tunnels, labels and badges; each artist's gid names what it shows.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch

from .. import i18n
from .geometry import _connect, _text_size, _toward
from .style import BAR, COLOURS, GAP, HIGHLIGHT, PAD, TUNNEL, WIRE
from .wiring import _ends, _tunnels

LEGEND = dict(  # the legend's words, shown in the learner's language
    host=i18n.N_("host"), container=i18n.N_("container"), router=i18n.N_("router"),
    switch=i18n.N_("switch"), server=i18n.N_("server"), client=i18n.N_("client"),
    node=i18n.N_("node"), bridge=i18n.N_("bridge"))
LEGEND["vxlan tunnel (FDB)"] = i18n.N_("vxlan tunnel (FDB)")


class _Sketch:
    """Measures and places every box, bar and pill, then draws them on an Axes."""

    def __init__(self, snapshot: dict, big: bool) -> None:
        self.snap, self.big, self.pt = snapshot, big, 6.0 if big else 8.0
        ends = _ends(snapshot)  # a target not drawn (loopback, missing) is no target
        self.ends = {k: (kind, t if t in ends else None, *rest) for k, (kind, t, *rest) in ends.items()}
        self.parent = {n: s["parent"] for n, s in snapshot.items() if s.get("parent") in snapshot}
        self.children = {n: sorted(c for c, p in self.parent.items() if p == n) for n in snapshot}
        # Where each end is drawn: "bar", "pill", "border" of its node's box, or on the bar
        # (node, bridge). Ends wired to nothing, or to by something inside their box, are pills.
        trunks = {t for k, (_, t, _, _) in self.ends.items()
                  if t and t != k and self._inside(k[0], t[0])}
        self.place_of = {}
        for key, (kind, target, _, master) in self.ends.items():
            on_bar = kind == "veth" and target and self.ends.get((key[0], master), ("",))[0] == "bridge"
            out = target and not self._inside(target[0], key[0]) and key not in trunks
            self.place_of[key] = ("bar" if kind == "bridge" else (key[0], master) if on_bar
                                  else "border" if out else "pill")
        order = [k for k in sorted(self.place_of, key=self._rank) if self.place_of[k] in ("bar", "pill")]
        self.inner = {n: self._chain_bars([k for k in order if k[0] == n]) for n in snapshot}  # bars first
        heights = [_text_size(v[2], self.pt)[1] for k, v in self.ends.items()
                   if self.place_of[k] not in ("bar", "pill")]
        self.vgap = 0.35 if big else 2 * max(heights + [0.2]) + 0.25  # room for two labels
        self.size, self.rect = {}, {}  # node or (node, ifname) -> (w, h) / (x0, y0, x1, y1)

    def _chain_bars(self, items: list) -> list:
        """Bars that share a container (one on two networks) side by side, so that its
        second cable is short and crosses nothing; otherwise the original order."""
        bars = [k for k in items if self.place_of[k] == "bar"]
        wired: dict = {}  # child node -> the bars its links end on
        for (child, _), (_, target, _, _) in self.ends.items():
            if target and self.place_of.get(target) in bars:
                wired.setdefault(child, set()).add(self.place_of[target])
        chained, left = [], list(bars)
        while left:
            chained.append(left.pop(0))
            while True:
                nxt = next((b for b in left if any({chained[-1], b} <= to for to in wired.values())), None)
                if nxt is None:
                    break
                left.remove(nxt)
                chained.append(nxt)
        return chained + [k for k in items if self.place_of[k] != "bar"]

    def _inside(self, node: str, ancestor: str) -> bool:
        while node is not None and node != ancestor:
            node = self.parent.get(node)
        return node == ancestor

    def _rank(self, key):  # bars, pills, then pills wired out of their box
        target = self.ends[key][1]
        wired_out = bool(target and not self._inside(target[0], key[0]))
        return self.place_of[key] == "pill" and 1 + wired_out, key

    def element(self, key):
        """What a link end is drawn on: its bar or pill, its bridge's bar, or its node's box."""
        where = self.place_of[key]
        return key if where in ("bar", "pill") else where if isinstance(where, tuple) else key[0]

    def text(self, key) -> str:
        """What a bar (on one line) or a pill says."""
        lines = self.ends[key][2][:1 if self.big else None]
        return ("  " if self.place_of[key] == "bar" else "\n").join(lines)

    def item_size(self, key) -> tuple[float, float]:
        """A bar's or pill's size; a bar is long enough for the labels of the ports on it."""
        w, h = _text_size(self.text(key).split("\n"), self.pt)
        ports = [] if self.big else [_text_size(self.ends[k][2], self.pt)[0] + 0.1
                                     for k, p in self.place_of.items() if p == key]
        return max(w + 0.1, sum(ports)), h + 0.04

    def columns(self, node: str, flip: bool = False) -> list:
        """The inside of a box as columns (bar or pill, children above, children below): each
        child under the first item it is wired to, nearest the others; unwired children last;
        two rows past four children. ``flip`` puts the columns right to left."""
        items = self.inner[node]
        index, wired = {key: i for i, key in enumerate(items)}, {c: [] for c in self.children[node]}
        for (child, _), (_, target, _, _) in self.ends.items():
            if child in wired and target and self.element(target) in index:
                wired[child].append(index[self.element(target)])
        cols = []
        for i, item in enumerate(items + [None]):
            kids = sorted((c for c, to in wired.items() if min(to, default=len(items)) == i),
                          key=lambda c: ((-1 if flip else 1) * max(wired[c], default=i), c))
            half = len(kids) // 2 if len(kids) > 4 else 0
            if item or kids:
                cols.append((item, kids[:half], kids[half:]))
        return cols[::-1] if flip else cols

    def _col_width(self, item, above, below) -> float:
        return max([self.item_size(item)[0] if item else 0] + [
            sum(self.size[c][0] for c in row) + GAP * (len(row) - 1) for row in (above, below) if row])

    def _bands(self, cols: list) -> list:
        """Heights of the three bands: children above, bars and pills, children below."""
        return [max([self.size[c][1] for col in cols for c in col[1]], default=0),
                max([self.item_size(col[0])[1] for col in cols if col[0]], default=0),
                max([self.size[c][1] for col in cols for c in col[2]], default=0)]

    def measure(self, node: str) -> None:
        """Size node's box from the inside out."""
        for child in self.children[node]:
            self.measure(child)
        title_w, title_h = _text_size([node], self.pt + 1)
        widths = [title_w] + [_text_size(self.ends[k][2], self.pt)[0] for k, p in self.place_of.items()
                              if k[0] == node and p == "border" and not self.big]
        cols = self.columns(node)
        widths.append(sum(self._col_width(*col) for col in cols) + GAP * (len(cols) - 1))
        bands = [h for h in self._bands(cols) if h]
        height = sum(bands) + self.vgap * (len(bands) - 1) + PAD if bands else 0
        self.size[node] = (max(widths) + 2 * PAD, height + title_h + 2 * PAD)

    def place(self, node: str, cx: float, cy: float, flip: bool) -> None:
        """Put node's box centred on (cx, cy), then its bars, pills and children inside it."""
        w, h = self.size[node]
        self.rect[node] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        cols = self.columns(node, flip)
        y, ys = cy + h / 2 - 2 * PAD - _text_size([node], self.pt + 1)[1], []
        for band in self._bands(cols):
            ys.append(y - band / 2)
            y -= band + self.vgap if band else 0
        widths = [self._col_width(*col) for col in cols]
        x = cx - (sum(widths) + GAP * (len(cols) - 1)) / 2
        for (item, above, below), cw in zip(cols, widths):
            if item:
                iw, ih = self.item_size(item)
                iw = cw if self.place_of[item] == "bar" or above or below else iw
                self.rect[item] = (x + (cw - iw) / 2, ys[1] - ih / 2, x + (cw + iw) / 2, ys[1] + ih / 2)
            for row, yc in ((above, ys[0]), (below, ys[2])):
                xc = x + (cw - sum(self.size[c][0] for c in row) - GAP * (len(row) - 1)) / 2
                for child in row:
                    self.place(child, xc + self.size[child][0] / 2, yc, flip)
                    xc += self.size[child][0] + GAP
            x += cw + GAP

    def layout(self) -> None:
        """Lay the top-level machines out with networkx, then spread them until no boxes touch."""
        roots = sorted(n for n in self.snap if n not in self.parent)
        for r in roots:
            self.measure(r)
        root = {n: r for r in roots for n in self.snap if self._inside(n, r)}
        graph = nx.Graph()
        graph.add_nodes_from(roots)
        for end, (_, target, _, _) in sorted(self.ends.items()):
            a, b = root[end[0]], target and root[target[0]]
            if target and a != b:  # room for the labels of both ends between the boxes
                gap = 0.6 if self.big else 0.3 + sum(_text_size(self.ends[k][2], self.pt)[0]
                                                     for k in (end, target)
                                                     if self.place_of[k] not in ("bar", "pill"))
                gap = max(gap, graph.edges[a, b]["gap"] if graph.has_edge(a, b) else 0)
                graph.add_edge(a, b, gap=gap, len=(max(self.size[a]) + max(self.size[b])) / 2 + gap)
        shortest = min(nx.get_edge_attributes(graph, "len").values(), default=1)
        for _, _, data in graph.edges(data=True):  # a spring's rest length goes as pull ** -1/3
            data["pull"] = (shortest / data["len"]) ** 3
        pos = nx.spring_layout(graph, weight="pull", iterations=300, seed=1)
        xy = np.array([pos[r] for r in roots], dtype=float)
        xy -= xy.mean(axis=0)
        if len(roots) > 1:  # main axis horizontal, the first machine on the left
            axis = np.linalg.svd(xy, full_matrices=False)[2][0]
            axis = axis if axis @ (xy[-1] - xy[0]) >= 0 else -axis
            xy = xy @ np.array([[axis[0], -axis[1]], [axis[1], axis[0]]])
            xy *= self._spread(xy, roots, graph)
        for r, (x, y) in zip(roots, xy):
            self.place(r, x, y, x > 1e-9)  # right of centre: pills wired out go on the left

    def _spread(self, xy, roots, graph) -> float:
        """The least scale putting every two boxes 2 * GAP apart (their wires' gap if wired)."""
        i, j = np.triu_indices(len(roots), 1)
        wh = np.array([self.size[r] for r in roots])
        half, delta = (wh[i] + wh[j]) / 2, np.maximum(np.abs(xy[i] - xy[j]), 1e-6)
        need = np.array([graph.edges[roots[a], roots[b]]["gap"] if graph.has_edge(roots[a], roots[b])
                         else 2 * GAP for a, b in zip(i, j)])
        lo, hi = 0.0, float(((half.sum(axis=1) + need) / delta.max(axis=1)).max())
        for _ in range(40):
            mid = (lo + hi) / 2
            ok = (np.hypot(*np.maximum(mid * delta - half, 0).T) >= need).all()
            lo, hi = (lo, mid) if ok else (mid, hi)
        return hi

    def _label(self, ax, p, q, r, lines, pt, hot, along=0.0, gid=None) -> None:
        """An end's name and addresses at anchor p, just outside rectangle r (its box or bar):
        over the wire (to q) if it leaves by the top or bottom, beside it if by a side;
        ``along`` > 0: on the wire itself, that fraction of the way to q."""
        (x, y), (dx, dy), (x0, y0, x1, y1) = p, (q[0] - p[0], q[1] - p[1]), r
        if along:
            ax.text(x + dx * along, y + dy * along, "\n".join(lines), ha="center", va="center", fontsize=pt,
                    zorder=30, linespacing=1.1, bbox=dict(boxstyle="round,pad=0.15", fc="white",
                                                          alpha=0.9, ec=HIGHLIGHT if hot else "none"), gid=gid)
            return
        if min(abs(y - y0), abs(y - y1)) <= min(abs(x - x0), abs(x - x1)):
            up = abs(y - y1) < abs(y - y0)
            ha = "center" if abs(dx) < abs(dy) / 4 else "left" if dx > 0 else "right"
            va, p = ("bottom" if up else "top"), (x, y + (0.05 if up else -0.05))
        else:
            right = abs(x - x1) < abs(x - x0)
            ha, va = ("left" if right else "right"), ("top" if dy > 0 else "bottom")
            p = (x + (0.05 if right else -0.05), y - np.sign(dy or -1) * 0.03)
        ax.text(*p, "\n".join(lines), ha=ha, va=va, fontsize=pt, zorder=30, linespacing=1.1,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", alpha=0.9,
                          ec=HIGHLIGHT if hot else "none"), gid=gid)

    def draw(self, ax, scale: float, highlight: list, *, exact: bool = False, badges: dict | None = None) -> list:
        """Draw boxes, bars, pills and wires; return the legend's handles. ``exact``: light a wire
        only when both its ends are highlighted; ``badges``: {node: text} in a disc at its corner."""
        hot_nodes = {h for h in highlight if isinstance(h, str)}
        hot_ends = {tuple(h) for h in highlight if not isinstance(h, str)}
        pt = self.pt * scale
        depth = {n: sum(a != n and self._inside(n, a) for a in self.snap) for n in self.snap}
        for node in sorted(self.snap, key=lambda n: (depth[n], n)):
            x0, y0, x1, y1 = self.rect[node]
            fill, edge = COLOURS.get(self.snap[node].get("kind"), COLOURS["node"])
            hot, full = node in hot_nodes, self.children[node] or self.inner[node]
            ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, "round,pad=0,rounding_size=0.08",
                                        fc=fill, ec=HIGHLIGHT if hot else edge, lw=2.5 if hot else 1.2,
                                        zorder=1 + depth[node], gid=f"node:{node}"))
            ax.text(x0 + PAD if full else (x0 + x1) / 2, y1 - PAD if full else (y0 + y1) / 2, node,
                    ha="left" if full else "center", va="top" if full else "center",
                    fontsize=(self.pt + 1) * scale, weight="bold", zorder=1 + depth[node], gid=f"label:node:{node}")
        for key in sorted(k for items in self.inner.values() for k in items):
            x0, y0, x1, y1 = self.rect[key]
            bar, hot = self.place_of[key] == "bar", key in hot_ends
            ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, "round,pad=0,rounding_size=0.05",
                                        fc=BAR if bar else "white", ec=HIGHLIGHT if hot else BAR,
                                        lw=2.5 if hot else 0.8, zorder=20,
                                        gid=f"{'bridge' if bar else 'link'}:{key[0]}:{key[1]}"))
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, self.text(key), ha="center", va="center", fontsize=pt,
                    zorder=21, color="white" if bar else "black", weight="bold" if bar else "normal",
                    linespacing=1.1, gid=f"label:{'bridge' if bar else 'link'}:{key[0]}:{key[1]}")
        wires = sorted([(kind in ("vxlan", "macvlan"), key, target) for key, (kind, target, _, _)
                        in self.ends.items() if target] + [
            (False, key, (key[0], master)) for key, (_, _, _, master) in self.ends.items()
            if self.place_of[key] == "pill" and self.place_of.get((key[0], master)) == "bar"])
        anchor, done, styles = {}, set(), set()
        for dash, a, b in wires:  # veth wires first: dashed ones may end on their anchors
            if (b, a) in done:
                continue
            done.add((a, b))
            ea, eb = self.element(a), self.element(b)
            if dash and b in anchor and self.place_of[b] == "border":
                pa, pb = _toward(self.rect[ea], anchor[b], isinstance(ea, tuple)), anchor[b]
            else:
                pa, pb = _connect(self.rect[ea], self.rect[eb], isinstance(ea, tuple),
                                  isinstance(eb, tuple))
                anchor.setdefault(b, pb)
            anchor[a] = pa
            veth = self.ends[a][0] == "veth"
            if exact:
                hot = a in hot_ends and b in hot_ends
            else:
                hot = a in hot_ends or veth and (b in hot_ends or a[0] != b[0] and {a[0], b[0]} <= hot_nodes)
            styles.add("vxlan / macvlan" if dash else "veth" if veth else "")
            ax.add_line(Line2D([pa[0], pb[0]], [pa[1], pb[1]], color=HIGHLIGHT if hot else WIRE,
                               lw=3 if hot else 1.3, ls="--" if dash else "-", zorder=10,
                               gid=f"wire:{a[0]}:{a[1]}|{b[0]}:{b[1]}"))
            # a slanted cable between a bar and a box carries both its labels (a box's corner is
            # too close to its neighbour's labels)
            on_wire = isinstance(ea, tuple) != isinstance(eb, tuple) and abs(pa[0] - pb[0]) > 0.05
            for end, p, q in ((a, pa, pb), (b, pb, pa)):
                if not self.big and self.place_of[end] not in ("bar", "pill") and (end == a or not dash):
                    along = (0.2 if isinstance(self.element(end), tuple) else 0.5) if on_wire else 0
                    self._label(ax, p, q, self.rect[self.element(end)], self.ends[end][2], pt,
                                end in hot_ends, along=along, gid=f"label:end:{end[0]}:{end[1]}")
        for a, b, vni in _tunnels(self.snap):  # what the FDB says: a tunnel between two VTEPs
            if a in self.ends and b in self.ends:
                pa, pb = _connect(self.rect[self.element(a)], self.rect[self.element(b)], True, True)
                hot = a in hot_ends and b in hot_ends
                ax.add_line(Line2D([pa[0], pb[0]], [pa[1], pb[1]], color=HIGHLIGHT if hot else TUNNEL,
                                   lw=3 if hot else 2, ls=":", zorder=9, gid=f"tunnel:{a[0]}:{a[1]}|{b[0]}:{b[1]}"))
                ax.text((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2, f"tunnel VNI {vni}", ha="center",
                        va="center", fontsize=pt, color=TUNNEL, zorder=30,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", alpha=0.9, ec="none"),
                        gid=f"label:tunnel:{a[0]}:{a[1]}|{b[0]}:{b[1]}")
                styles.add("vxlan tunnel (FDB)")
        for node, text in (badges or {}).items():
            if node in self.rect:
                x0, y0, x1, y1 = self.rect[node]
                ax.text(x1 - 0.02, y1 - 0.02, text, ha="center", va="center", fontsize=pt + 1, color="white",
                        weight="bold", zorder=40, bbox=dict(boxstyle="circle,pad=0.25", fc=HIGHLIGHT, ec="none"),
                        gid=f"badge:{node}")
        kinds = sorted({s["kind"] if s.get("kind") in COLOURS else "node" for s in self.snap.values()})
        handles = [Patch(fc=COLOURS[k][0], ec=COLOURS[k][1], label=i18n._(LEGEND.get(k, k))) for k in kinds]
        handles += [Patch(fc=BAR, label=i18n._(LEGEND["bridge"]))] if "bar" in self.place_of.values() else []
        return handles + [Line2D([], [], color=TUNNEL if ls == ":" else WIRE, ls=ls,
                                 label=i18n._(LEGEND.get(label, label)))
                          for label, ls in (("veth", "-"), ("vxlan / macvlan", "--"),
                                            ("vxlan tunnel (FDB)", ":")) if label in styles]
