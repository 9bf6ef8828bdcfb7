"""Each exercise step must catch a learner's mistake: the harness for tests/course/test_exercises_*.py.

A ``Mistake`` is a structurally plausible wrong answer aimed at one step of an exercise: from the
*solved* exercise, ``make(lab)`` undoes or spoils what that step checks (forwarding off, the rule
missing, the server stopped, the wrong address…); ``undo`` puts back what the exercise's own reset
would not (a setting of the notebook's earlier cells). ``assert_each_step_catches`` resets, solves, makes
the mistake and asserts that every step before it still passes and that *that* step fails with a hint
containing ``hint`` — so a checker step that always passes, or names the wrong thing, fails a test.

Each test module lists its exercises' mistakes as module-level ``Mistakes`` and runs them through a
test parametrized with ``each_exercise(...)``; tests/course/test_exercise_coverage.py checks that, across
the modules, every step of every exercise in ``nethelpers.exercises`` is covered that way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from nethelpers.exercises import Exercise


@dataclass(frozen=True)
class Mistake:
    step: int                  # the index, in exercise.steps, of the step that must catch it
    make: Callable             # fn(lab): from the solved exercise, the learner's mistake
    hint: str                  # a piece of the hint that step must give
    why: str = ""              # what the learner got wrong, for the failure message
    undo: Callable | None = None  # fn(lab): puts back what the exercise's reset does not (ip_forward…)


@dataclass(frozen=True)
class Mistakes:
    """One exercise and the mistakes its steps must catch."""
    exercise: Exercise
    mistakes: tuple[Mistake, ...] = field(default_factory=tuple)

    def __init__(self, exercise: Exercise, *mistakes: Mistake):
        object.__setattr__(self, "exercise", exercise)
        object.__setattr__(self, "mistakes", tuple(mistakes))

    @property
    def covered(self) -> set[int]:
        return {m.step for m in self.mistakes}


def forwarding(node: str, on: bool) -> Callable:
    """A mistake (or its undo) many exercises share: ``node`` stops (or starts again) forwarding IPv4."""
    def set_forwarding(lab) -> None:
        lab[node].sysctl("net.ipv4.ip_forward", int(on))
    set_forwarding.__name__ = f"{node}_forwarding_{'on' if on else 'off'}"
    return set_forwarding


def each_exercise(*cases: Mistakes):
    """Parametrize a test over exercises' mistakes (argument ``cases``), one test per exercise."""
    return pytest.mark.parametrize("cases", cases, ids=[c.exercise.title for c in cases])


def assert_each_step_catches(lab, cases: Mistakes) -> None:
    """For each mistake: reset, solve, make the mistake, and check that its step is the first to fail,
    with the expected hint. Ends solved, so the exercise is known to pass after the last mistake too."""
    exercise = cases.exercise
    for mistake in cases.mistakes:
        text = exercise.steps[mistake.step][0]
        label = f"{exercise.title!r}, step {mistake.step} ({text!r}), mistake {mistake.why or mistake.make.__name__!r}"
        exercise.start(lab)
        exercise.solve(lab, quiet=True)
        mistake.make(lab)
        results = exercise.problems(lab)
        early = [(step, hint) for step, hint in results[:mistake.step] if hint is not None]
        assert not early, f"{label}: an earlier step fails instead: {early}"
        hint = results[mistake.step][1]
        assert hint, f"{label}: the step passes although the mistake was made"
        assert mistake.hint in hint, f"{label}: the hint does not say {mistake.hint!r}: {hint!r}"
        if mistake.undo is not None:
            mistake.undo(lab)
    exercise.start(lab)
    exercise.solve(lab, quiet=True)
    assert exercise.passed(lab)
