"""Put two builds side by side: which rules one has and the other lacks."""

from __future__ import annotations


def rules_diff(mine: str, theirs: str, *, rename: dict[str, str] | None = None,
               labels: tuple[str, str] = ("by hand", "Docker")) -> str:
    """Compare two ``iptables -S`` listings rule by rule (order ignored).

    ``rename`` maps names in ``mine`` to their counterparts in ``theirs`` (e.g.
    ``{"br0": "docker0", "10.0.0.0/24": "172.17.0.0/16"}``) so that equivalent
    rules line up. Lines read ``=`` (both), ``+`` (only theirs), ``-`` (only mine),
    in the order of ``theirs``, then what only ``mine`` has.
    """
    rename = rename or {}

    def normal(rule: str) -> str:
        for old, new in rename.items():
            rule = " ".join(new if word == old else word for word in rule.split())
        return rule

    ours = [normal(r) for r in mine.splitlines() if r.strip()]
    other = [r for r in theirs.splitlines() if r.strip()]
    lines = [f"{'=' if r in ours else '+'} {r}" for r in other]
    lines += [f"- {r}" for r in ours if r not in other]
    counts = (sum(line[0] == "=" for line in lines), sum(line[0] == "+" for line in lines),
              sum(line[0] == "-" for line in lines))
    legend = (f"= in both ({counts[0]})   + only {labels[1]} ({counts[1]})   "
              f"- only {labels[0]} ({counts[2]})")
    return legend + "\n" + "\n".join(lines) + "\n"
