"""Exercises: a task, and a checker that looks at the live lab and says what is missing.

    ex = bridge.OWN_WAY_OUT
    ex.check(lab)      # prints ✓ for each step done, and ✗ with a hint for the first one missing

A checker never changes the lab; ``passed(lab)`` is the same check, silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

Step = tuple[str, Callable]  # (what should be true, fn(lab) -> None if so, else a hint)


@dataclass
class Exercise:
    title: str
    steps: list[Step]

    def problems(self, lab) -> list[tuple[str, str | None]]:
        """Each step with None if done, or the hint; steps after the first failure are not run
        (they usually depend on it) and show as not checked yet."""
        results, failed = [], False
        for text, check in self.steps:
            if failed:
                results.append((text, ""))
                continue
            hint = check(lab)
            results.append((text, hint))
            failed = hint is not None
        return results

    def passed(self, lab) -> bool:
        return all(hint is None for _, hint in self.problems(lab))

    def check(self, lab) -> None:
        results = self.problems(lab)
        for text, hint in results:
            if hint is None:
                print(f"✓ {text}")
            elif hint == "":
                print(f"· {text} (not checked yet)")
            else:
                print(f"✗ {text}\n    {hint}")
        if all(hint is None for _, hint in results):
            print(f"Well done: {self.title} — solved.")


# --- small probes the checkers share -------------------------------------------------
def node_names(lab) -> set[str]:
    return {n.name for n in lab.nodes()}


def link(lab, node: str, ifname: str) -> dict | None:
    return next((l for l in lab.snapshot([node])[node]["links"] if l["name"] == ifname), None)


def addresses(lab, node: str, ifname: str) -> list[str]:
    """IPv4 addresses (with prefix) of one interface."""
    return [a["address"] for a in lab.snapshot([node])[node]["addresses"]
            if a["dev"] == ifname and a["family"] == "inet"]


def default_gateway(lab, node: str) -> str | None:
    return next((r["via"] for r in lab.snapshot([node])[node]["routes"] if r["dst"] == "default"), None)


def pings(lab, node: str, address: str) -> bool:
    return lab.node(node).run(f"ping -c1 -W1 {address}", timeout=5).rc == 0
