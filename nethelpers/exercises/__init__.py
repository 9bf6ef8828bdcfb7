"""Exercises: a task, a checker that looks at the live lab, a reset and a reference solution.

In a notebook, each exercise is a task (markdown) and these cells::

    ex = bridge.OWN_WAY_OUT
    ex.start(lab)      # (hidden) puts the lab at the exercise's start and shows what is to do
    # your code here
    ex.check(lab)      # ✓ for each step done, ✗ with a hint for the first one missing
    ex.show_solution() # the reference solution, folded, for when you are stuck; ex.solve(lab) applies it

Titles and steps are marked ``N_("…")`` in the exercise modules and shown through ``_()``; hints
are ``_("…").format(…)`` where they are made (nethelpers/i18n): a Chinese notebook's checker
speaks Chinese.

``start`` is also the reset: run it again to throw away an attempt and begin afresh. A checker
never changes the lab; ``passed(lab)`` is the same check, silent.

With ``NETHELPERS_SOLUTIONS=1`` in the environment (the test suite sets it), ``check`` first applies
the reference solution: nbval then sees every checker fail on the starting state (``start``'s
output) and pass on a right answer (``check``'s output).
"""

from __future__ import annotations

import html
import inspect
import ipaddress
import os
import textwrap
from dataclasses import dataclass
from typing import Callable

from ..errors import LabError
from ..i18n import _

Step = tuple[str, Callable]  # (what should be true, fn(lab) -> None if so, else a hint)
SOLUTIONS_VARIABLE = "NETHELPERS_SOLUTIONS"


def solutions_mode() -> bool:
    """True when the reference solutions should be applied before checking (CI)."""
    return os.environ.get(SOLUTIONS_VARIABLE, "") not in ("", "0", "false", "no")


class ExerciseError(AssertionError):
    """An exercise that is wrong itself: its checker passes on the starting state, or fails on
    its own reference solution."""


@dataclass
class Exercise:
    title: str
    steps: list[Step]
    setup: Callable | None = None     # fn(lab): from any state, the exercise's starting state
    solution: Callable | None = None  # fn(lab): the reference answer

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

    def first_problem(self, lab) -> tuple[str, str] | None:
        """The first step not done and its hint, or None when solved."""
        return next(((text, hint) for text, hint in self.problems(lab) if hint), None)

    def start(self, lab) -> None:
        """Put the lab at this exercise's start (undoing any attempt) and show the steps to do."""
        if self.setup is not None:
            self.setup(lab)
        results = self.problems(lab)
        if all(hint is None for _, hint in results):
            raise ExerciseError(f"{self.title}: the checker passes before anything was done")
        done = sum(hint is None for _step, hint in results)
        print(_("Exercise: {title} ({done} of {steps} steps already true)").format(
            title=_(self.title), done=done, steps=len(results)))
        for text, hint in results:
            print(f"  {'✓' if hint is None else '□'} {_(text)}")

    reset = start

    def check(self, lab, *, as_is: bool = False) -> None:
        """Print each step as done (✓), failing with a hint (✗), or not checked yet (·).

        ``as_is``: look at the lab as it is even with NETHELPERS_SOLUTIONS set (a wrong answer
        kept in the notebook, to show a failing check)."""
        lines = []
        if solutions_mode() and not as_is:
            lines.append(_("({variable} is set: the reference solution was applied first)").format(
                variable=SOLUTIONS_VARIABLE))
            self.solve(lab, quiet=True)
        results = self.problems(lab)
        for text, hint in results:
            if hint is None:
                lines.append(f"✓ {_(text)}")
            elif hint == "":
                lines.append(_("· {step} (not checked yet)").format(step=_(text)))
            else:
                lines.append(f"✗ {_(text)}\n    {hint}")
        if all(hint is None for _step, hint in results):
            lines.append(_("Well done: {title} — solved.").format(title=_(self.title)))
        print("\n".join(lines))

    def solve(self, lab, *, quiet: bool = False) -> None:
        """Apply the reference solution (unless the exercise is already solved), then check.
        If it does not apply on top of an attempt, the lab is reset to the start first."""
        if self.solution is None:
            raise ExerciseError(f"{self.title} has no reference solution")
        if not self.passed(lab):
            try:
                self.solution(lab)
            except LabError:  # on top of a half-done attempt (an interface already there…)
                pass
            if not self.passed(lab) and self.setup is not None:
                self.setup(lab)  # start afresh, then solve
                self.solution(lab)
            if not self.passed(lab):
                step, hint = self.first_problem(lab)
                raise ExerciseError(f"{self.title}: the reference solution does not pass ({step}: {hint})")
        if not quiet:
            self.check(lab)

    def show_solution(self) -> "Solution":
        """The reference solution's code (the body of its function): in a notebook a folded block
        that opens on a click (so that Run All does not show it), elsewhere the code as text."""
        if self.solution is None:
            raise ExerciseError(f"{self.title} has no reference solution")
        source = textwrap.dedent(inspect.getsource(self.solution))
        body = source.split(":\n", 1)[1] if source.startswith("def ") else source
        body = textwrap.dedent(body)
        if inspect.getdoc(self.solution):
            body = body.split('"""', 2)[-1].lstrip("\n")
        return Solution(self.title, body.rstrip())


@dataclass
class Solution:
    """A reference solution to show: folded HTML in Jupyter, plain code as text."""
    title: str
    code: str

    def __str__(self) -> str:
        return self.code

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.code)

    def _repr_html_(self) -> str:
        summary = _("Reference solution — {title} (click to open)").format(title=_(self.title))
        return (f"<details><summary>{html.escape(summary)}</summary>"
                f"<pre>{html.escape(self.code)}</pre></details>")


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


def docker_host(lab, name: str | None = None):
    """The lab's Docker host (its containers, networks…), as the checkers read it."""
    from ..docker import get_host

    return get_host(lab, name)


def running_container(lab, name: str, host: str | None = None):
    """The running container ``name`` of Docker host ``host`` (default: the lab's), or None."""
    ctr = docker_host(lab, host).containers.get(name)
    return ctr if ctr is not None and ctr.running else None


def is_ipv4(text: str) -> bool:
    """A word of tool output that is an IPv4 address (dig +short prints its errors on stdout too)."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def word_after(words: list[str], keyword: str) -> str | None:
    """In a line of tool output split into words, the word after ``keyword`` (``via`` in ``ip route get``,
    ``--to-destination`` in ``iptables -S``, ``dst`` in ``bridge fdb``): compared whole by the checkers,
    never searched for as a piece of text (which took 10.0.0.20 for 10.0.0.2)."""
    return words[words.index(keyword) + 1] if keyword in words[:-1] else None


def gateway_to(lab, node: str, address: str) -> str | None:
    """The gateway ``node`` sends ``address``'s packets to (``ip route get``), None if it sends them
    direct or has no route."""
    return word_after(lab.node(node).run(["ip", "route", "get", address]).stdout.split(), "via")


def pings(lab, node: str, address: str) -> bool:
    return lab.node(node).run(f"ping -c1 -W1 {address}", timeout=5).rc == 0
