"""iptables-legacy's side of the tracer: its rules are invisible to nftables' tracing, so the rules
the probe met are read from packet counters instead (``iptables-save -c`` before and after).

Counters cannot tell the order in which the packet met the rules, and count any other packet that
crossed them meanwhile; the hits are listed in ruleset order (tables in hook order).
"""

from __future__ import annotations

import re

from .path import NAT_TARGETS, RuleHit

TABLES = ("raw", "mangle", "nat", "filter", "security")
_RULE = re.compile(r"^\[(\d+):\d+\] (-A (\S+) .*)$")
_POLICY = re.compile(r"^:(\S+) (ACCEPT|DROP) \[(\d+):\d+\]$")


def backend(lab) -> str:
    """"legacy" or "nf_tables": which iptables the lab's nodes use."""
    return "legacy" if "legacy" in lab.run_in_sandbox(["iptables", "-V"]).stdout else "nf_tables"


def save(lab, names: list[str]) -> dict[str, str]:
    """Each node's legacy ruleset with its counters (Debian names the binary iptables-legacy-save)."""
    command = "iptables-legacy-save -c 2>/dev/null || iptables-save -c"
    return {name: lab.node(name).run(command).stdout for name in names}


def _counts(text: str) -> dict[tuple, int]:
    """{(table, chain, rule or "", n-th identical rule): packets} of one iptables-save -c."""
    counts, table, seen = {}, None, {}
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif (match := _POLICY.match(line)) and table:
            counts[(table, match[1], "", 0, match[2].lower())] = int(match[3])
        elif (match := _RULE.match(line)) and table:
            key = (table, match[3], match[2])
            seen[key] = seen.get(key, -1) + 1
            counts[(*key, seen[key], "")] = int(match[1])
    return counts


def _verdict(rule: str) -> str:
    target = rule.split(" -j ", 1)[1].split()[0] if " -j " in rule else ""
    if not target:
        return "continue"
    if target in ("ACCEPT", "DROP", "REJECT", "RETURN"):
        return target.lower()
    if target in NAT_TARGETS:
        return "accept"
    return f"jump {target}"


def hits(before: str, after: str) -> list[RuleHit]:
    """The rules and policies whose packet counters went up, as the tracer's RuleHits."""
    old, new = _counts(before), _counts(after)
    found = [key for key, packets in new.items() if packets > old.get(key, 0)]
    found.sort(key=lambda key: (TABLES.index(key[0]) if key[0] in TABLES else len(TABLES)))
    return [RuleHit(table, chain, rule, _verdict(rule), counted=True) if rule
            else RuleHit.policy(table, chain, policy, counted=True) for table, chain, rule, _, policy in found]
