"""The packet-path tracer: send one real packet and report the path it actually took.

    t = lab.trace("c1", "203.0.113.10")               # one ICMP echo request
    t = lab.trace("lan-client", "198.51.100.11", tcp=8080)   # one TCP connection attempt (SYN)
    print(t)        # each namespace it crossed: in, out, bridge, every rule met, NAT, the verdict
    t.plot()        # the path over the lab's topology

How: every node gets a small nftables ruleset that marks the probe (by a DSCP value NAT leaves
alone) for tracing and watches every hook; ``nft monitor trace`` in each node reports each hook,
rule and verdict, the kernel's own account. Docker's iptables rules appear as ``iptables -S`` lines.
Everything added is removed afterwards, also on error.
"""

from __future__ import annotations

import ipaddress
import re
import sys

from ..errors import CommandTimeout, InvalidValue, MissingFeature
from . import nft
from .path import Hop, RuleHit, hop_of, order

__all__ = ["trace", "Trace", "Hop", "RuleHit"]

_SOURCE_PORT = 40404   # a fixed source port: the same trace prints the same every time


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
        head = {"hop": "#", "node": "node", "in": "in", "out": "out", "what": "what happened", "nat": "NAT"}
        keys = [k for k in head if k != "nat" or any(r["nat"] for r in rows)]
        widths = {k: max(len(str(r[k])) for r in [head, *rows]) for k in keys}
        lines = [f"{self.description}: {self.outcome}; {self.reply}", ""]
        for row in [head, *rows]:
            lines.append("  ".join(str(row[k]).ljust(widths[k]) for k in keys).rstrip())
        for i, hop in enumerate(self.hops, 1):
            if hop.rules or hop.conntrack:
                lines.append("")
                lines.append(f"{i} {hop.node}: netfilter, in the order the packet met it")
                lines.extend(f"    {rule}" for rule in hop.rules)
                if hop.conntrack:
                    lines.append(f"    conntrack: {hop.conntrack}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def plot(self, nodes: list[str] | None = None, **options):
        """The lab's topology with the path highlighted (nodes and the interfaces it used)."""
        highlight: list = []
        for hop in self.hops:
            highlight.append(hop.node)
            highlight.extend((hop.node, name) for name in hop.interfaces)
        options.setdefault("title", f"{self.description}: {self.outcome}")
        badges: dict[str, str] = {}
        for i, hop in enumerate(self.hops, 1):
            badges[hop.node] = f"{badges[hop.node]},{i}" if hop.node in badges else str(i)
        return self.lab.plot(nodes, highlight=highlight, exact=True, badges=badges, **options)


def _port(name: str | None, bridge: str | None) -> str:
    if name is None:
        return "—"
    return f"{name} ({bridge})" if bridge and name != bridge else name


def _what(hop: Hop) -> str:
    if hop.action == "dropped":
        deciding = next((r for r in reversed(hop.rules) if r.verdict.split()[-1] in ("drop", "reject")), None)
        return f"dropped by {deciding.table} {deciding.chain}" if deciding else "dropped"
    if hop.action == "stopped":
        return hop.reason
    if hop.action == "sent" and hop.after.get("dport") == str(nft.VXLAN_PORT):
        return f"VXLAN packet made here, sent to {hop.after.get('daddr')} port {nft.VXLAN_PORT}"
    text = {"sent": "sent", "routed": "routed", "switched": f"switched by bridge {hop.bridge_in or hop.bridge_out}",
            "delivered": hop.receiver, "decapsulated": "VXLAN socket: decapsulated"}[hop.action]
    return f"{text}; encapsulated: {hop.encapsulation}" if hop.encapsulation else text


def trace(lab, source: str, destination: str, *, tcp: int | None = None, udp: int | None = None,
          nodes: list[str] | None = None) -> Trace:
    """Send one marked packet from node ``source`` to ``destination`` (an address or a node's name)
    — an ICMP echo request, or with ``tcp=PORT``/``udp=PORT`` one TCP SYN or UDP datagram — and
    return the path it took through ``nodes`` (default: every node of the lab)."""
    if tcp is not None and udp is not None:
        raise InvalidValue("give tcp=PORT or udp=PORT, not both (one probe at a time)")
    protocol = "tcp" if tcp is not None else "udp" if udp is not None else "icmp"
    port = tcp if tcp is not None else udp
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        raise InvalidValue(f"{protocol}={port!r} is not a port number: give an integer from 1 to 65535")
    lab.node(source)  # NotFound, with the list of nodes, when there is no such node
    address = _address_of(lab, destination)
    names = nodes if nodes is not None else [n.name for n in lab.nodes()]
    if lab.run_in_sandbox("command -v nft").rc != 0:
        raise MissingFeature("the tracer needs the nft command (package nftables): sudo apt-get install nftables")

    monitors, installed = {}, []
    try:
        for name in names:
            monitors[name] = lab.node(name).start("nft monitor")
        for name in names:  # load everywhere first, then wait: the monitors start meanwhile
            lab.node(name).run(["nft", "-f", "-"], input=nft.tables(protocol), check=True)
            installed.append(name)
        for name in names:
            _listening(lab, name, monitors[name])
        reply = _send(lab, source, protocol, address, port)
        outputs = {}
        for name in names:
            lab.node(name).run(["nft", "-f", "-"], input=nft.REMOVE, check=True)
            installed.remove(name)
        for name in names:  # the removal is printed after every trace event before it
            outputs[name] = monitors[name].wait_for(f"delete table bridge {nft.TABLE}", timeout=5)
    finally:
        for name in installed:
            lab.node(name).run(["nft", "-f", "-"], input=nft.REMOVE)
        for monitor in monitors.values():
            monitor.stop()

    by_node = {name: nft.parse(name, text) for name, text in outputs.items()}
    snapshot = lab.snapshot(names)
    iptables = _iptables_texts(lab, by_node)
    path = order(source, by_node, snapshot)
    hops = [hop_of(name, by_node[name], snapshot, iptables) for name in path]
    for hop in hops:
        if hop.nat:
            hop.conntrack = _conntrack(lab, hop, protocol)
    if hops and hops[-1].action == "delivered":
        hops[-1].receiver = _receiver(lab, hops[-1], protocol)
    if hops and hops[-1].action == "stopped":
        hops[-1].reason = _why_stopped(lab, hops[-1])
    kind = {"icmp": "ICMP echo request", "tcp": f"TCP SYN to port {port}", "udp": f"UDP datagram to port {port}"}
    description = f"{kind[protocol]} from {source} to {destination}" + (
        f" ({address})" if address != destination else "")
    return Trace(lab, description, hops, _outcome(lab, hops, snapshot, address), reply)


def _address_of(lab, destination: str) -> str:
    try:
        return str(ipaddress.IPv4Address(destination))
    except ValueError:
        pass
    names = {n.name for n in lab.nodes()}
    if destination not in names:
        raise InvalidValue(f"{destination!r} is neither an IPv4 address nor a node of this lab "
                              f"(nodes: {', '.join(sorted(names))})")
    addresses = [a["address"].split("/")[0] for a in lab.snapshot([destination])[destination]["addresses"]
                 if a["family"] == "inet" and not a["address"].startswith("127.")]
    if not addresses:
        raise InvalidValue(f"node {destination!r} has no IPv4 address to send to: give an address instead")
    return addresses[0]


def _listening(lab, name: str, monitor) -> None:
    """Make sure the node's monitor listens: it has printed a ruleset change (if it subscribed
    only after the tables were loaded, a throwaway chain gives it one to see)."""
    for attempt in range(20):
        try:
            monitor.wait_for("new generation", timeout=0.25)
            return
        except CommandTimeout:
            lab.node(name).run(["nft", "-f", "-"], check=True, input=f"add chain inet {nft.TABLE} ready\n"
                                                                      f"delete chain inet {nft.TABLE} ready\n")
    monitor.wait_for("new generation", timeout=1)


def _send(lab, source: str, protocol: str, address: str, port: int | None) -> str:
    node = lab.node(source)
    if protocol == "icmp":
        result = node.run(["ping", "-n", "-c1", "-W1", "-Q", str(nft.TOS), address], timeout=5)
        if result.rc == 0:
            return "the reply came back"
        error = (result.stderr or result.stdout).strip().splitlines()
        return f"no reply ({error[-1]})" if result.rc == 2 and error else "no reply"
    result = node.run([sys.executable, "-m", "nethelpers.trace.probe", protocol, address, str(port),
                       "--tos", str(nft.TOS), "--sport", str(_SOURCE_PORT)], timeout=5)
    word = result.stdout.strip()
    return {"connected": "the connection was accepted (SYN-ACK)", "refused": "refused (RST: nothing listens)",
            "timeout": "no answer within 1 s", "sent": "sent (UDP expects no reply)",
            "unreachable": "not sent: no route"}.get(word, word or result.stderr.strip())


def _iptables_texts(lab, by_node: dict) -> dict:
    """{(node, table, chain, nft rule text): its iptables -S line} for every iptables rule the events met."""
    texts = {}
    for node, events in by_node.items():
        met = [e for e in events if e.kind == "rule" and e.family == "ip" and not e.ours]
        for table in sorted({e.table for e in met}):
            listing = lab.node(node).run(["nft", "list", "table", "ip", table]).stdout
            lines = nft.iptables_lines(listing, lab.node(node).run(["iptables", "-t", table, "-S"]).stdout)
            for e in met:
                if e.table == table and (e.chain, nft.without_counter(e.rule)) in lines:
                    texts[(node, table, e.chain, e.rule)] = lines[(e.chain, nft.without_counter(e.rule))]
    return texts


def _why_stopped(lab, hop: Hop) -> str:
    """Why a packet that came into a node was neither delivered nor sent on (no netfilter verdict)."""
    node = lab.node(hop.node)
    if node.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "0":
        return f"not forwarded: net.ipv4.ip_forward is 0 on {hop.node}"
    route = node.run(["ip", "route", "get", hop.before.get("daddr", ""), "from", hop.before.get("saddr", ""),
                      "iif", hop.came_in or "lo"])
    if route.rc != 0:
        return f"no route: {route.stderr.strip() or route.stdout.strip()}"
    return "dropped by the kernel before routing (reverse-path filter?)"


def _receiver(lab, hop: Hop, protocol: str) -> str:
    """Who took the packet in its last node: the kernel (ICMP) or the process listening on the port."""
    if protocol == "icmp":
        return "delivered; the kernel answers (echo reply)"
    port = hop.after.get("dport", "")
    listing = lab.node(hop.node).run(["ss", "-Hlnp", "-t" if protocol == "tcp" else "-u", f"sport = :{port}"]).stdout
    # a process's name as ss shows it: its comm, 15 characters of its title ("docker-proxy -p")
    names = sorted({name.split()[0] for name in re.findall(r'users:\(\("([^"]+)"', listing)})
    if names:
        return f"delivered to {', '.join(names)} (port {port})"
    answer = "a RST" if protocol == "tcp" else "ICMP port unreachable"
    return f"arrived, but nothing listens on port {port} (the kernel answers {answer})"


def _conntrack(lab, hop: Hop, protocol: str) -> str | None:
    """The conntrack entry of the translated flow, as 'original … reply …' (no timers)."""
    command = ["conntrack", "-L", "-p", protocol, "-s", hop.before["saddr"], "-d", hop.before["daddr"]]
    if hop.before.get("sport"):  # the probe's own flow, not an older one between the same addresses
        command += ["--sport", hop.before["sport"], "--dport", hop.before["dport"]]
    line = next((l for l in lab.node(hop.node).run(command).stdout.splitlines() if "src=" in l), None)
    if line is None:
        return None
    keys = ("src", "dst", "sport", "dport")
    halves: list[dict] = [{}, {}]
    for key, _, value in (word.partition("=") for word in line.split() if "=" in word):
        if key in keys:
            halves[1 if key in halves[0] else 0].setdefault(key, value)
    return "original {}, reply {}".format(*(" ".join(f"{k}={h[k]}" for k in keys if k in h) for h in halves))


def _outcome(lab, hops: list[Hop], snapshot: dict, address: str) -> str:
    if not hops:
        return "it never left (no packet was sent)"
    last = hops[-1]
    if last.action == "dropped":
        return f"dropped on {last.node}"
    if last.action == "delivered":
        return f"delivered to {last.node}"
    if last.action == "stopped":
        return f"dropped on {last.node} ({last.reason.split(':')[0]})"
    if last.went_out:
        unanswered = _unanswered_arp(lab, last, address)
        if unanswered:
            return (f"it never left {last.node}: nobody answered ARP for {unanswered} on {last.went_out} "
                    f"(no such address on that link?)")
        link = next((l for l in snapshot.get(last.node, {}).get("links", []) if l["name"] == last.went_out), {})
        peer = link.get("peer_node")
        return (f"sent out {last.node}'s {last.went_out}" + (f" towards {peer}" if peer else "")
                + ", and seen nowhere after")
    return f"last seen on {last.node}"


def _unanswered_arp(lab, hop: Hop, address: str) -> str | None:
    """The next hop the node asked for in vain (its neighbour entry FAILED or INCOMPLETE), if any."""
    route = lab.node(hop.node).run(["ip", "route", "get", hop.after.get("daddr", address)]).stdout.split()
    via = route[route.index("via") + 1] if "via" in route else hop.after.get("daddr", address)
    state = lab.node(hop.node).run(["ip", "neigh", "show", via, "dev", hop.went_out]).stdout
    return via if ("FAILED" in state or "INCOMPLETE" in state) else None
