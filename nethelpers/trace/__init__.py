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
import sys

from ..errors import CommandTimeout, InvalidValue, MissingFeature
from ..i18n import N_, _
from . import counters, nft
from .explain import conntrack_entry, iptables_texts, outcome, receiver, why_stopped
from .path import Hop, RuleHit, headers, hop_of, order, translations
from .report import Trace

__all__ = ["trace", "Trace", "Hop", "RuleHit"]

_SOURCE_PORT = 40404   # a fixed source port: the same trace prints the same every time
_NO_ROUTE = N_("not sent: no route")  # connect() failed with ENETUNREACH/EHOSTUNREACH


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
    if source not in names:
        raise InvalidValue(f"nodes={nodes!r} leaves out the source, {source!r}: the trace starts there")
    if lab.run_in_sandbox("command -v nft").rc != 0:
        raise MissingFeature("the tracer needs the nft command (package nftables): sudo apt-get install nftables")

    legacy = counters.backend(lab) == "legacy"
    monitors, installed = {}, []
    try:
        for name in names:
            monitors[name] = lab.node(name).start("nft monitor")
        for name in names:  # load everywhere first, then wait: the monitors start meanwhile
            lab.node(name).run(["nft", "-f", "-"], input=nft.tables(protocol), check=True)
            installed.append(name)
        for name in names:
            _listening(lab, name, monitors[name])
        saved = counters.save(lab, names) if legacy else {}
        reply = _send(lab, source, protocol, address, port)
        counted = ({name: counters.hits(saved[name], text) for name, text in counters.save(lab, names).items()}
                   if legacy else {})
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
    # first the conntrack entries of translated flows: a closed TCP flow is forgotten 10 s after
    # the probe's RST, which a slow lab (the VM backend's emulated CPU) could otherwise outlast
    tracked = {name: conntrack_entry(lab, name, before, protocol) for name, events in by_node.items()
               for before, after in [headers(events)] if translations(before, after)}
    snapshot = lab.snapshot(names)
    iptables = iptables_texts(lab, by_node)
    path = order(source, by_node, snapshot)
    hops = [hop_of(name, by_node[name], snapshot, iptables, counted.get(name, [])) for name in path]
    for hop in hops:
        if hop.nat:
            hop.conntrack = tracked.get(hop.node)
    if hops and hops[-1].action == "delivered":
        hops[-1].receiver = receiver(lab, hops[-1], protocol)
    if hops and hops[-1].action == "stopped":
        hops[-1].reason = why_stopped(lab, hops[-1])
    if reply == _(_NO_ROUTE) and hops and hops[0].went_out:  # it did leave: a node on the way had no route
        reply = _("no route on the way (an ICMP unreachable came back)")
    if address == destination:
        kind = {"icmp": N_("ICMP echo request from {source} to {destination}"),
                "tcp": N_("TCP SYN to port {port} from {source} to {destination}"),
                "udp": N_("UDP datagram to port {port} from {source} to {destination}")}
    else:  # a node's name, and the address it stands for
        kind = {"icmp": N_("ICMP echo request from {source} to {destination} ({address})"),
                "tcp": N_("TCP SYN to port {port} from {source} to {destination} ({address})"),
                "udp": N_("UDP datagram to port {port} from {source} to {destination} ({address})")}
    description = _(kind[protocol]).format(port=port, source=source, destination=destination, address=address)
    return Trace(lab, description, hops, outcome(lab, hops, snapshot, address), reply)


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
            return _("the reply came back")
        error = (result.stderr or result.stdout).strip().splitlines()
        return _("no reply ({error})").format(error=error[-1]) if result.rc == 2 and error else _("no reply")
    result = node.run([sys.executable, "-m", "nethelpers.trace.probe", protocol, address, str(port),
                       "--tos", str(nft.TOS), "--sport", str(_SOURCE_PORT)], timeout=30)
    word = result.stdout.strip()
    replies = {"connected": N_("the connection was accepted (SYN-ACK)"),
               "refused": N_("refused (RST: nothing listens)"), "timeout": N_("no answer within 1 s"),
               "sent": N_("sent (UDP expects no reply)"), "unreachable": _NO_ROUTE}
    return _(replies[word]) if word in replies else (word or result.stderr.strip())
