"""The tracer's result: the hops as a table, the rules each met, and the path over the topology."""

from __future__ import annotations

from ..i18n import _, layout
from . import nft
from .path import Hop


class Trace:
    """The result of :func:`trace`: ``hops`` in order, ``outcome`` and ``reply`` in words."""

    def __init__(self, lab, description: str, hops: list[Hop], outcome: str, reply: str) -> None:
        self.lab, self.description, self.hops, self.outcome, self.reply = lab, description, hops, outcome, reply

    @property
    def delivered(self) -> bool:
        """Did the packet reach a socket at the end of its path (whatever the answer)?"""
        return bool(self.hops) and self.hops[-1].action == "delivered"

    @property
    def dropped_at(self) -> Hop | None:
        return next((hop for hop in self.hops if hop.action == "dropped"), None)

    def table(self) -> list[dict]:
        """One row per hop: node, in, out, what happened, NAT."""
        return [{"hop": i, "node": hop.node, "in": _port(hop.came_in, hop.bridge_in),
                 "out": _port(hop.went_out, hop.bridge_out), "what": _what(hop),
                 "nat": "; ".join(hop.nat)} for i, hop in enumerate(self.hops, 1)]

    def __str__(self) -> str:
        rows = self.table()
        head = {"hop": "#", "node": _("node"), "in": _("in"), "out": _("out"), "what": _("what happened"),
                "nat": "NAT"}
        keys = [k for k in head if k != "nat" or any(r["nat"] for r in rows)]
        widths = {k: max(layout.width(str(r[k])) for r in [head, *rows]) for k in keys}
        lines = [_("{description}: {outcome}; {reply}").format(description=self.description, outcome=self.outcome,
                                                                reply=self.reply), ""]
        for row in [head, *rows]:
            lines.append("  ".join(layout.ljust(str(row[k]), widths[k]) for k in keys).rstrip())
        for i, hop in enumerate(self.hops, 1):
            if hop.rules or hop.conntrack:
                lines.append("")
                if any(rule.counted for rule in hop.rules):
                    section = _("{hop} {node}: netfilter, iptables-legacy: the rules whose packet counters it "
                                "moved, in ruleset order (table, verdict, rule)")
                else:
                    section = _("{hop} {node}: netfilter, in the order the packet met it (table, verdict, rule)")
                lines.append(section.format(hop=i, node=hop.node))
                lines.extend(f"    {rule}" for rule in hop.rules)
                if hop.conntrack:
                    lines.append("    " + _("conntrack: {entry}").format(entry=hop.conntrack))
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def plot(self, nodes: list[str] | None = None, **options):
        """The lab's topology with the path highlighted (nodes and the interfaces it used)."""
        highlight: list = []
        for hop in self.hops:
            highlight.append(hop.node)
            highlight.extend((hop.node, name) for name in hop.interfaces)
        options.setdefault("title", _("{description}: {outcome}").format(description=self.description,
                                                                        outcome=self.outcome))
        badges: dict[str, str] = {}
        for i, hop in enumerate(self.hops, 1):
            badges[hop.node] = f"{badges[hop.node]},{i}" if hop.node in badges else str(i)
        options.setdefault("highlight_label", _("the packet's path (numbered hop by hop)"))
        return self.lab.plot(nodes, highlight=highlight, exact=True, badges=badges, **options)


def _port(name: str | None, bridge: str | None) -> str:
    if name is None:
        return "—"
    return f"{name} ({bridge})" if bridge and name != bridge else name


def _what(hop: Hop) -> str:
    if hop.action == "dropped":
        deciding = next((r for r in reversed(hop.rules) if r.verdict.split()[-1] in ("drop", "reject")), None)
        if deciding:
            return _("dropped by {table} {chain}").format(table=deciding.table, chain=deciding.chain)
        return _("dropped")
    if hop.action == "stopped":
        return hop.reason
    if hop.action == "sent" and hop.after.get("dport") == str(nft.VXLAN_PORT):
        return _("VXLAN packet made here, sent to {address} port {port}").format(address=hop.after.get("daddr"),
                                                                               port=nft.VXLAN_PORT)
    if hop.action == "switched":
        text = _("switched by bridge {bridge}").format(bridge=hop.bridge_in or hop.bridge_out)
    elif hop.action == "delivered":
        text = hop.receiver
    else:
        text = {"sent": _("sent"), "routed": _("routed"), "decapsulated": _("VXLAN socket: decapsulated")}[hop.action]
    if hop.encapsulation:
        return _("{what}; encapsulated: {encapsulation}").format(what=text, encapsulation=hop.encapsulation)
    return text
