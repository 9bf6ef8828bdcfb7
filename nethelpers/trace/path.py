"""From the trace events of every node to the path: the nodes in the order the packet crossed them,
and for each what came in, what went out, which rules decided, and what NAT changed."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..i18n import N_, _
from .nft import VXLAN_PORT, Event

NAT_TARGETS = ("DNAT", "SNAT", "MASQUERADE", "REDIRECT")  # their verdict is accept; the target says more


@dataclass
class RuleHit:
    """A rule (or a chain's policy) the packet met, and its verdict."""
    table: str
    chain: str
    rule: str        # the iptables -S line ("-A CHAIN …", "-P CHAIN POLICY"), else nft's own text
    verdict: str     # "accept", "drop", "jump DOCKER-USER", "return", "continue", "policy accept"…
    counted: bool = False  # found by its packet counter (iptables-legacy), not by tracing

    @classmethod
    def policy(cls, table: str, chain: str, verdict: str, **kw) -> "RuleHit":
        """No rule decided: the chain's policy did (iptables -S writes it "-P CHAIN POLICY")."""
        return cls(table, chain, f"-P {chain} {verdict.upper()}", f"policy {verdict}", **kw)

    def __str__(self) -> str:
        rule = self.rule if self.rule.startswith(("-A ", "-P ")) else f"{self.chain}: {self.rule}"
        target = rule.split(" -j ", 1)[1].split()[0] if " -j " in rule else ""
        verdict = f"{self.verdict} ({target})" if target in NAT_TARGETS else self.verdict
        return f"{self.table:<7} {verdict:<30} {rule}"


@dataclass
class Hop:
    node: str
    came_in: str | None               # interface, None when the packet was made here
    went_out: str | None              # interface, None when it ended here
    action: str                       # "sent", "routed", "switched", "delivered", "dropped", "decapsulated",
                                      # "stopped" (dropped by the kernel outside netfilter: see reason)
    bridge_in: str | None = None      # the bridge whose port it came in on
    bridge_out: str | None = None     # the bridge whose port it went out on
    rules: list[RuleHit] = field(default_factory=list)
    nat: list[str] = field(default_factory=list)          # "source 172.17.0.2 → 198.51.100.11"
    conntrack: str | None = None
    encapsulation: str | None = None  # "VXLAN to 198.51.100.12"
    receiver: str = field(default_factory=lambda: _("delivered to a local socket"))  # who took it, if delivered here
    reason: str = ""                                      # why it stopped here
    before: dict = field(default_factory=dict)            # the header as it came in / was made
    after: dict = field(default_factory=dict)             # the header as it left

    @property
    def interfaces(self) -> list[str]:
        return [name for name in (self.came_in, self.bridge_in, self.bridge_out, self.went_out) if name]


def _links(snapshot: dict, node: str) -> dict[str, dict]:
    return {link["name"]: link for link in snapshot.get(node, {}).get("links", [])}


def _explicit_return(iptables: dict, node: str, table: str, chain: str, packet: dict) -> str | None:
    """The rule behind a bare "verdict return" event: an older kernel (Debian 12's 6.1, the VM
    backend's) traces an iptables-nft ``-j RETURN`` rule that way, a newer one (6.18) as the rule
    itself. It is the chain's first RETURN rule whose matches the packet meets, when they are
    matches this can check (interfaces, addresses); none, or one it cannot check before it: an
    implicit return at the chain's end, left unlisted as on a newer kernel."""
    for (n, t, c, _rule), text in iptables.items():
        if (n, t, c) != (node, table, chain) or not text.endswith(" -j RETURN"):
            continue
        verdict = _matches(text.split()[2:-2], packet)
        if verdict is None:
            return None
        if verdict:
            return text
    return None


def _matches(words: list[str], packet: dict) -> bool | None:
    """Does the packet meet these iptables matches (-i, -o, -s, -d, each maybe negated)? None:
    a match this does not know."""
    fields = {"-i": "iif", "-o": "oif", "-s": "saddr", "-d": "daddr"}
    negate, i = False, 0
    while i < len(words):
        word = words[i]
        if word == "!":
            negate = True
        elif word in fields and i + 1 < len(words):
            value, seen = words[i + 1], packet.get(fields[word])
            if seen is None:
                return None
            if word in ("-i", "-o"):
                hit = seen.startswith(value[:-1]) if value.endswith("+") else seen == value
            else:
                hit = ipaddress.ip_address(seen) in ipaddress.ip_network(value, strict=False)
            if hit == negate:
                return False
            negate, i = False, i + 1
        else:
            return None
        i += 1
    return True


def hop_of(node: str, events: list[Event], snapshot: dict, iptables: dict,
           counted: list[RuleHit] = ()) -> Hop:
    """Summarise one node's events (all of them belong to the probe); ``counted``: the
    iptables-legacy rules whose counters the probe moved (nft's tracing cannot see them)."""
    packets = [e for e in events if e.kind == "packet"]
    links = _links(snapshot, node)
    came_in = next((e.packet.get("iif") for e in packets if e.packet.get("iif")), None)
    if packets and not packets[0].packet.get("iif"):
        came_in = None  # made here (the first hook was output)
    went_out = exit_interface(packets, links)
    hooks = {(e.family, e.chain) for e in events if e.ours}
    rules = []
    dropped = False
    seen: dict = {}   # the packet as the latest hook saw it (for RETURN rules' matches)
    for e in events:
        if e.kind == "packet":
            seen = e.packet
        if e.ours or e.kind == "packet":
            continue
        if e.kind == "rule":
            text = iptables.get((node, e.table, e.chain, e.rule), e.rule)
            rules.append(RuleHit(e.table, e.chain, text, e.verdict))
        elif e.kind == "policy":
            rules.append(RuleHit.policy(e.table, e.chain, e.verdict))
        elif e.kind == "verdict" and e.verdict == "return":
            explicit = _explicit_return(iptables, node, e.table, e.chain, seen)
            if explicit:
                rules.append(RuleHit(e.table, e.chain, explicit, "return"))
        dropped = dropped or e.verdict.split()[0] in ("drop", "reject")
    rules += counted
    dropped = dropped or any(hit.verdict.split()[-1] in ("drop", "reject") for hit in counted)
    if dropped:
        action, went_out = "dropped", None
    elif ("bridge", "forward") in hooks:  # (with br_netfilter, iptables' FORWARD sees it as well)
        action = "switched"
    elif ("inet", "forward") in hooks:
        action = "routed"
    elif ("inet", "input") in hooks and (went_out in (None, "lo") or ("inet", "output") not in hooks):
        action, went_out = "delivered", None
    else:  # it came in and went nowhere: the kernel dropped it outside netfilter
        action = "sent" if came_in is None else "stopped"
    bridge_in, bridge_out = (links.get(name or "", {}).get("master") for name in (came_in, went_out))
    before, after = headers(events)
    hop = Hop(node, came_in, went_out, action, bridge_in, bridge_out, rules, nat=translations(before, after),
              before=before, after=after)
    if went_out and links.get(went_out, {}).get("kind") == "vxlan":
        mac = next((e.packet.get("ether_daddr") for e in reversed(packets) if e.packet.get("ether_daddr")), None)
        vtep = next((f["dst"] for f in snapshot.get(node, {}).get("fdb", [])
                     if f.get("dev") == went_out and f.get("mac") == mac and f.get("dst")), None)
        hop.encapsulation = _("VXLAN to {vtep}").format(vtep=vtep) if vtep else "VXLAN"
    if action == "delivered" and hop.after.get("dport") == str(VXLAN_PORT):
        hop.action = "decapsulated"
    return hop


def headers(events: list[Event]) -> tuple[dict, dict]:
    """The packet's IP header as it came in (or was made) and as it left, from one node's events."""
    ip_packets = [e.packet for e in events if e.kind == "packet" and e.packet.get("saddr")]
    return (ip_packets[0], ip_packets[-1]) if ip_packets else ({}, {})


def translations(before: dict, after: dict) -> list[str]:
    """What NAT changed between the two headers: ["source 172.17.0.2 → 198.51.100.10", …]."""
    nat = []
    if before and after:
        for side, port, message in (("saddr", "sport", N_("source {old} → {new}")),
                                    ("daddr", "dport", N_("destination {old} → {new}"))):
            old, new = _endpoint(before, side, port), _endpoint(after, side, port)
            if old != new:
                nat.append(_(message).format(old=old, new=new))
    return nat


def exit_interface(packets: list[Event], links: dict) -> str | None:
    """The interface the packet finally left by: a bridge's port rather than the bridge itself
    (with br_netfilter, the IP hooks that see the bridge run after the bridge chose the port)."""
    outs = [e.packet["oif"] for e in packets if e.packet.get("oif")]
    ports = [name for name in outs if links.get(name, {}).get("kind") != "bridge"]
    return (ports or outs or [None])[-1]


def _endpoint(packet: dict, address: str, port: str) -> str:
    return f"{packet[address]}:{packet[port]}" if packet.get(port) else packet.get(address, "?")


def order(source: str, by_node: dict[str, list[Event]], snapshot: dict) -> list[str]:
    """The nodes in the order the packet crossed them: from the source, follow the cable of the
    interface it left by; past a VXLAN device or a VXLAN socket, go to the node where the outer
    (or inner) packet shows up next."""
    path, node = [], source
    while node and node not in path and by_node.get(node):
        path.append(node)
        events = [e for e in by_node[node] if e.kind == "packet"]
        link = _links(snapshot, node).get(exit_interface(events, _links(snapshot, node)) or "")
        nxt = link.get("peer_node") if link else None
        if nxt and by_node.get(nxt) and nxt not in path:
            node = nxt
            continue
        # encapsulated (out a vxlan device) or decapsulated (delivered to UDP 4789): the packet
        # continues in another namespace that is not cabled to this one
        rest = [n for n, evs in by_node.items() if n not in path and evs]
        vxlan_out = link is not None and link.get("kind") == "vxlan"
        vxlan_in = any(e.packet.get("dport") == str(VXLAN_PORT) for e in events)
        if vxlan_out:
            node = next((n for n in rest if not _first_iif(by_node[n])), None)
        elif vxlan_in:
            node = next((n for n in rest
                         if _links(snapshot, n).get(_first_iif(by_node[n]) or "", {}).get("kind") == "vxlan"), None)
        else:
            node = None
    return path


def _first_iif(events: list[Event]) -> str | None:
    first = next((e for e in events if e.kind == "packet"), None)
    return first.packet.get("iif") if first else None
