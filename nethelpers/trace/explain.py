"""What the tracer asks the lab after the packet has gone: iptables' own text for the rules it met,
NAT as conntrack keeps it, who received it, and why it stopped where it stopped."""

from __future__ import annotations

import re

from ..i18n import _
from . import nft
from .path import Hop


def iptables_texts(lab, by_node: dict) -> dict:
    """{(node, table, chain, nft rule text): its iptables -S line} for every iptables rule the events
    met, and every rule of a chain the packet returned from with a bare "verdict return" event
    (which rule returned it is decided in :func:`nethelpers.trace.path.hop_of`)."""
    texts = {}
    for node, events in by_node.items():
        met = [e for e in events if e.family == "ip" and not e.ours
               and (e.kind == "rule" or (e.kind, e.verdict) == ("verdict", "return"))]
        for table in sorted({e.table for e in met}):
            listing = lab.node(node).run(["nft", "list", "table", "ip", table]).stdout
            lines = nft.iptables_lines(listing, lab.node(node).run(["iptables", "-t", table, "-S"]).stdout)
            for e in met:
                if e.table != table:
                    continue
                if e.kind == "verdict":
                    texts.update({(node, table, chain, rule): text for (chain, rule), text in lines.items()
                                  if chain == e.chain})
                elif (e.chain, nft.without_counter(e.rule)) in lines:
                    texts[(node, table, e.chain, e.rule)] = lines[(e.chain, nft.without_counter(e.rule))]
    return texts


def why_stopped(lab, hop: Hop) -> str:
    """Why a packet that came into a node was neither delivered nor sent on (no netfilter verdict)."""
    node = lab.node(hop.node)
    if node.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "0":
        return _("not forwarded: net.ipv4.ip_forward is 0 on {node}").format(node=hop.node)
    route = node.run(["ip", "route", "get", hop.before.get("daddr", ""), "from", hop.before.get("saddr", ""),
                      "iif", hop.came_in or "lo"])
    if route.rc != 0:
        return _("no route: {error}").format(error=route.stderr.strip() or route.stdout.strip())
    return _("dropped by the kernel before routing (reverse-path filter?)")


def receiver(lab, hop: Hop, protocol: str) -> str:
    """Who took the packet in its last node: the kernel (ICMP) or the process listening on the port."""
    if protocol == "icmp":
        return _("delivered; the kernel answers (echo reply)")
    port = hop.after.get("dport", "")
    listing = lab.node(hop.node).run(["ss", "-Hlnp", "-t" if protocol == "tcp" else "-u", f"sport = :{port}"]).stdout
    # a process's name as ss shows it: its comm, 15 characters of its title ("docker-proxy -p")
    names = sorted({name.split()[0] for name in re.findall(r'users:\(\("([^"]+)"', listing)})
    if names:
        return _("delivered to {names} (port {port})").format(names=", ".join(names), port=port)
    if protocol == "tcp":
        return _("arrived, but nothing listens on port {port} (the kernel answers a RST)").format(port=port)
    return _("arrived, but nothing listens on port {port} (the kernel answers ICMP port unreachable)").format(
        port=port)


def conntrack_entry(lab, node: str, before: dict, protocol: str) -> str | None:
    """The conntrack entry in ``node`` of the flow whose packet came in as ``before``, as
    'original … reply …' (no timers). Ask soon after the probe: a TCP probe ends with a RST, and
    conntrack forgets a closed flow 10 s later."""
    command = ["conntrack", "-L", "-p", protocol, "-s", before["saddr"], "-d", before["daddr"]]
    if before.get("sport"):  # the probe's own flow, not an older one between the same addresses
        command += ["--sport", before["sport"], "--dport", before["dport"]]
    line = next((l for l in lab.node(node).run(command).stdout.splitlines() if "src=" in l), None)
    if line is None:
        return None
    keys = ("src", "dst", "sport", "dport")
    halves: list[dict] = [{}, {}]
    for key, _sep, value in (word.partition("=") for word in line.split() if "=" in word):
        if key in keys:
            halves[1 if key in halves[0] else 0].setdefault(key, value)
    original, reply = (" ".join(f"{k}={h[k]}" for k in keys if k in h) for h in halves)
    return _("original {original}, reply {reply}").format(original=original, reply=reply)


def outcome(lab, hops: list[Hop], snapshot: dict, address: str) -> str:
    if not hops:
        return _("it never left (no packet was sent)")
    last = hops[-1]
    if last.action == "dropped":
        return _("dropped on {node}").format(node=last.node)
    if last.action == "delivered":
        return _("delivered to {node}").format(node=last.node)
    if last.action == "stopped":  # the reason's head, before its colon (a Chinese reason's is full-width)
        return _("dropped on {node} ({reason})").format(node=last.node, reason=re.split("[:：]", last.reason)[0])
    if last.went_out:
        unanswered = _unanswered_arp(lab, last, address)
        if unanswered:
            return _("it never left {node}: nobody answered ARP for {address} on {interface} "
                     "(no such address on that link?)").format(node=last.node, address=unanswered,
                                                               interface=last.went_out)
        link = next((l for l in snapshot.get(last.node, {}).get("links", []) if l["name"] == last.went_out), {})
        peer = link.get("peer_node")
        if peer:
            return _("sent out {node}'s {interface} towards {peer}, and seen nowhere after").format(
                node=last.node, interface=last.went_out, peer=peer)
        return _("sent out {node}'s {interface}, and seen nowhere after").format(node=last.node,
                                                                                 interface=last.went_out)
    return _("last seen on {node}").format(node=last.node)


def _unanswered_arp(lab, hop: Hop, address: str) -> str | None:
    """The next hop the node asked for in vain (its neighbour entry FAILED or INCOMPLETE), if any."""
    route = lab.node(hop.node).run(["ip", "route", "get", hop.after.get("daddr", address)]).stdout.split()
    via = route[route.index("via") + 1] if "via" in route else hop.after.get("daddr", address)
    state = lab.node(hop.node).run(["ip", "neigh", "show", via, "dev", hop.went_out]).stdout
    return via if ("FAILED" in state or "INCOMPLETE" in state) else None
