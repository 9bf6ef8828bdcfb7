"""The netfilter side of the tracer: the tables that mark one packet, and nft's trace events.

Each node gets two tables, ``inet nethelpers_trace`` and ``bridge nethelpers_trace``. Their first
chains (priority -500, before everything else) set ``nftrace`` on the probe — recognised by its
DSCP, which NAT never rewrites — and their last chains (priority 500) only watch: the kernel then
reports every hook the packet passes (``nft monitor trace``), every rule of every other table
(Docker's iptables-nft rules) it meets, and the verdicts. The bridge family shows switched frames,
which never reach the IP hooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TABLE = "nethelpers_trace"
DSCP = 0x2D                  # an unassigned code point: nothing in a lab sets it
TOS = DSCP << 2              # the byte the probe sets (ECN bits zero)
VXLAN_PORT = 4789
HOOKS = ("prerouting", "input", "forward", "output", "postrouting")


def request_match(protocol: str) -> tuple[str, str]:
    """nft expressions matching the probe (not its reply): directly, and inside a VXLAN packet,
    whose inner IPv4 header starts 30 bytes into the UDP header (UDP 8, VXLAN 8, Ethernet 14;
    raw offsets are in bits: TOS at 248, protocol at 312, the inner ICMP type or TCP flags after
    a 20-byte header at 400 and 504)."""
    direct = {"icmp": "icmp type echo-request", "tcp": "tcp flags & (syn | ack) == syn",
              "udp": "meta l4proto udp"}[protocol]
    inner = {"icmp": "@th,312,8 1 @th,400,8 8", "tcp": "@th,312,8 6 @th,504,8 & 0x12 == 0x02",
             "udp": "@th,312,8 17"}[protocol]
    return (f"ip dscp {DSCP:#x} {direct}", f"udp dport {VXLAN_PORT} @th,248,6 {DSCP:#x} {inner}")


def tables(protocol: str) -> str:
    """The ruleset (``nft -f``) that marks and watches the probe in one node."""
    direct, encapsulated = request_match(protocol)
    lines = []
    for family in ("inet", "bridge"):
        lines.append(f"table {family} {TABLE} {{")
        for hook in HOOKS:
            marks = hook in ("prerouting", "output")
            lines.append(f"  chain {hook} {{ type filter hook {hook} priority {-500 if marks else 500}; policy accept;")
            if marks:
                lines.append(f"    {direct} meta nftrace set 1")
                lines.append(f"    {encapsulated} meta nftrace set 1")
            lines.append("  }")
        lines.append("}")
    return "\n".join(lines) + "\n"


REMOVE = f"delete table inet {TABLE}\ndelete table bridge {TABLE}\n"

_EVENT = re.compile(r"^trace id (?P<id>\w+) (?P<family>\w+) (?P<table>\S+) (?P<chain>\S+) "
                    r"(?:packet: (?P<packet>.*)|rule (?P<rule>.*) \(verdict (?P<verdict>[^)]*)\)"
                    r"|policy (?P<policy>\w+)|verdict (?P<other>.*))$")
_FIELDS = {"iif": r'\biif "([^"]+)"', "oif": r'\boif "([^"]+)"', "saddr": r"\bip saddr (\S+)",
           "daddr": r"\bip daddr (\S+)", "sport": r"\b(?:tcp|udp) sport (\S+)",
           "dport": r"\b(?:tcp|udp) dport (\S+)", "ether_daddr": r"\bether daddr (\S+)"}


@dataclass
class Event:
    """One line of ``nft monitor trace``: the packet seen at a chain, a rule it matched, or a policy."""
    node: str
    id: str
    family: str
    table: str
    chain: str
    kind: str                      # "packet", "rule", "policy" or "verdict"
    rule: str = ""                 # nft's text of the rule (kind "rule")
    verdict: str = ""              # "accept", "drop", "jump DOCKER-USER", "continue", "return"…
    packet: dict = field(default_factory=dict)   # iif, oif, saddr, daddr, sport, dport, ether_daddr

    @property
    def ours(self) -> bool:
        return self.table == TABLE


def parse(node: str, text: str) -> list[Event]:
    """The trace events in a monitor's output (other lines — ruleset changes — are skipped)."""
    events = []
    for line in text.splitlines():
        match = _EVENT.match(line.strip())
        if not match:
            continue
        common = dict(node=node, id=match["id"], family=match["family"], table=match["table"], chain=match["chain"])
        if match["packet"] is not None:
            fields = {key: m.group(1) for key, pattern in _FIELDS.items() if (m := re.search(pattern, match["packet"]))}
            events.append(Event(kind="packet", packet=fields, **common))
        elif match["rule"] is not None:
            events.append(Event(kind="rule", rule=match["rule"], verdict=match["verdict"], **common))
        elif match["policy"] is not None:
            events.append(Event(kind="policy", verdict=match["policy"], **common))
        else:
            events.append(Event(kind="verdict", verdict=match["other"].strip(), **common))
    return events


# --- nft's rule text -> the iptables -S line the learner knows ------------------------------
_COUNTER = re.compile(r"\s*counter packets \d+ bytes \d+")


def iptables_lines(nft_listing: str, iptables_s: str) -> dict[tuple[str, str], str]:
    """{(chain, nft rule text): iptables -S line} for one table of one node, pairing the
    i-th rule of each chain in ``nft list table`` with the i-th ``-A CHAIN`` line."""
    by_chain: dict[str, list[str]] = {}
    for line in iptables_s.splitlines():
        if line.startswith("-A "):
            by_chain.setdefault(line.split()[1], []).append(line)
    mapping, chain, index = {}, None, 0
    for raw in nft_listing.splitlines():
        line = raw.strip()
        if line.startswith("chain "):
            chain, index = line.split()[1], 0
        elif chain and line and not line.startswith(("type ", "}", "policy ")) and not line.endswith("{"):
            rules = by_chain.get(chain, [])
            if index < len(rules):
                mapping[(chain, without_counter(line))] = rules[index]
            index += 1
    return mapping


def without_counter(rule: str) -> str:
    """A rule's text without its counter, its spaces normalised: ``nft monitor trace`` and ``nft list``
    space a rule whose first match prints nothing (iptables' comment) differently."""
    return " ".join(_COUNTER.sub("", rule).split())
