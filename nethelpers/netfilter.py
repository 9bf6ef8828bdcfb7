"""Netfilter's hooks, with the rules a node has in each: the picture of chapter 01's primer.

    netfilter.rules(lab["myhost"])   # {(table, chain): [rule, ...]} from iptables-save
    netfilter.plot(lab["myhost"])    # the five hooks a packet can pass, and those rules in them

A packet that arrives passes PREROUTING, then the routing decision sends it to INPUT (for this
machine) or FORWARD (through it), then POSTROUTING; one a local process sends passes OUTPUT and
POSTROUTING. At each hook the tables are consulted in priority order (raw, conntrack, mangle, nat,
filter: ``include/uapi/linux/netfilter_ipv4.h``'s NF_IP_PRI_*), and only the built-in chains of a
table are hooked; a user chain (Docker's ``DOCKER``) is reached by a jump from one of them.
The picture's artists carry gids (``hook:CHAIN``, ``table:TABLE:CHAIN``) for the tests.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .plot import blank

# which tables hook which built-in chain, in the order the kernel consults them (NF_IP_PRI_*)
HOOKS = {
    "PREROUTING": ("raw", "conntrack", "mangle", "nat"),
    "INPUT": ("mangle", "filter", "nat"),
    "FORWARD": ("mangle", "filter"),
    "OUTPUT": ("raw", "conntrack", "mangle", "nat", "filter"),
    "POSTROUTING": ("mangle", "nat"),
}
CONNTRACK = "conntrack: a new flow gets an entry; replies and later packets are matched to it"
HOOK_COLOURS = ("#eef3fb", "#3b6ea5")
BOX_W, BOX_H = 2.55, 1.45
# where each hook's box sits (lower-left corner, inches)
PLACES = {"PREROUTING": (0.3, 2.35), "FORWARD": (3.75, 2.35), "POSTROUTING": (6.95, 2.35),
          "INPUT": (2.05, 0.3), "OUTPUT": (5.6, 0.3)}
WRAP = 40  # characters per line of a rule shown in a box


def rules(node) -> dict[tuple[str, str], list[str]]:
    """The node's iptables rules, per (table, chain), each without its ``-A CHAIN``."""
    found: dict[tuple[str, str], list[str]] = {}
    table = None
    for line in node.run("iptables-save", check=True).stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A ") and table:
            _, chain, rule = line.split(" ", 2)
            found.setdefault((table, chain), []).append(rule)
    return found


def _lines(table: str, chain_rules: list[str]) -> list[str]:
    """What a hook's box says of one table: its first rule, wrapped to the box, and how many more."""
    if table == "conntrack":
        return ["conntrack"]
    if not chain_rules:
        return [f"{table}: no rules"]
    words, lines, line = chain_rules[0].split(" "), [], f"{table}:"
    for word in words:
        if len(line) + 1 + len(word) > WRAP and line.strip():
            lines.append(line)
            line = "  "
        line += ("" if line.endswith("  ") else " ") + word
    lines.append(line)
    if len(lines) > 2:
        lines = [lines[0], lines[1][:WRAP - 1] + "…"]
    if len(chain_rules) > 1:
        lines.append(f"  (+{len(chain_rules) - 1} more)")
    return lines


def plot(node, *, title: str | None = None, tables: tuple[str, ...] = ("raw", "nat", "filter")) -> Figure:
    """The five hooks, each listing the tables consulted there and the node's first rule in each.

    ``tables``: which tables to list (mangle is left out by default: the course adds no rule to
    it); a table with rules in a hook's chain is always listed, whatever ``tables`` says.
    """
    found = rules(node)
    fig, ax = blank(9.6, 4.5, title)
    for chain, (x, y) in PLACES.items():
        ax.add_patch(FancyBboxPatch((x, y), BOX_W, BOX_H, "round,pad=0,rounding_size=0.08",
                                    fc=HOOK_COLOURS[0], ec=HOOK_COLOURS[1], lw=1.4, gid=f"hook:{chain}"))
        ax.text(x + 0.1, y + BOX_H - 0.12, chain, fontsize=9.5, fontweight="bold", va="top",
                color=HOOK_COLOURS[1], gid=f"label:hook:{chain}")
        row = y + BOX_H - 0.45
        for table in HOOKS[chain]:
            chain_rules = found.get((table, chain), [])
            if table not in tables and table != "conntrack" and not chain_rules:
                continue
            for text in _lines(table, chain_rules):
                ax.text(x + 0.12, row, text, fontsize=7, va="top", family="monospace",
                        color="#6b4fa8" if table == "conntrack" else "#222222",
                        gid=f"table:{table}:{chain}")
                row -= 0.2
    _decisions(ax)
    ax.text(0.05, 0.04, CONNTRACK, fontsize=7, color="#6b4fa8", gid="label:conntrack")
    return fig


def _arrow(ax, start, end, gid):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, lw=1.2,
                                 color="#555555", gid=gid))


def _decisions(ax) -> None:
    """The arrows between the hooks and the two routing decisions."""
    top = PLACES["PREROUTING"][1] + BOX_H / 2
    pre_x, fwd_x, post_x = PLACES["PREROUTING"][0], PLACES["FORWARD"][0], PLACES["POSTROUTING"][0]
    route_x = (pre_x + BOX_W + fwd_x) / 2
    in_x, in_y = PLACES["INPUT"]
    out_x, _ = PLACES["OUTPUT"]
    low = in_y + BOX_H / 2
    ax.text(pre_x - 0.05, top + BOX_H / 2 + 0.12, "in (a NIC)", fontsize=7.5, gid="label:in")
    ax.text(post_x + BOX_W - 0.9, top + BOX_H / 2 + 0.12, "out (a NIC)", fontsize=7.5, gid="label:out")
    ax.text(route_x + 0.1, PLACES["PREROUTING"][1] - 0.12, "routing: to this\nmachine?", fontsize=7, va="top",
            gid="label:route-in")
    _arrow(ax, (pre_x + BOX_W, top), (fwd_x, top), "arrow:forward")
    _arrow(ax, (fwd_x + BOX_W, top), (post_x, top), "arrow:post")
    _arrow(ax, (route_x, top - 0.05), (route_x, in_y + BOX_H), "arrow:input")
    ax.text(route_x - 0.1, in_y + BOX_H + 0.1, "yes", fontsize=7, ha="right", gid="label:yes")
    ax.text((pre_x + BOX_W + fwd_x) / 2 + 0.05, top + 0.07, "no", fontsize=7, gid="label:no")
    process_x = (in_x + BOX_W + out_x) / 2
    ax.text(process_x, low + 0.12, "a local\nprocess", fontsize=7.5, ha="center", va="bottom",
            gid="label:process")
    _arrow(ax, (in_x + BOX_W, low), (out_x, low), "arrow:process")
    up_x = out_x + BOX_W - 0.3
    _arrow(ax, (up_x, in_y + BOX_H), (up_x + 0.3, PLACES["POSTROUTING"][1]), "arrow:output")
    ax.text(up_x + 0.25, (in_y + BOX_H + PLACES["POSTROUTING"][1]) / 2 - 0.05, "routing", fontsize=7,
            gid="label:route-out")
