"""Every step of every exercise is shown to catch a mistake (tests/course/mistakes.py) in some test.

Without this, a checker step could always pass — the final "it really works" step most easily — and
every notebook and test would stay green: the notebooks' checkers run on the solved state only.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import nethelpers.exercises
from mistakes import Mistakes
from nethelpers.exercises import Exercise

TESTS = Path(__file__).parent


def all_exercises() -> dict[str, Exercise]:
    """Every exercise the course has, by 'module.NAME'."""
    found = {}
    for info in pkgutil.iter_modules(nethelpers.exercises.__path__):
        module = importlib.import_module(f"nethelpers.exercises.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Exercise):
                found[f"{info.name}.{name}"] = value
    return found


def cases_run_by_tests() -> list[Mistakes]:
    """The Mistakes that a test of tests/course/test_exercises_*.py is parametrized with (each_exercise)."""
    used = []
    for path in sorted(TESTS.glob("test_exercises_*.py")):
        module = importlib.import_module(path.stem)
        for name, test in vars(module).items():
            if not name.startswith("test_") or not callable(test):
                continue
            for mark in getattr(test, "pytestmark", []):
                if mark.name == "parametrize" and mark.args[0] == "cases":
                    used.extend(c for c in mark.args[1] if isinstance(c, Mistakes))
    return used


def test_the_course_has_exercises_to_cover():
    exercises = all_exercises()
    assert len(exercises) >= 21 and sum(len(e.steps) for e in exercises.values()) >= 89


def test_every_step_of_every_exercise_is_shown_catching_a_mistake():
    used = cases_run_by_tests()
    missing = []
    for name, exercise in all_exercises().items():
        covered = set().union(*(c.covered for c in used if c.exercise is exercise))
        missing += [f"{name} step {i}: {text}" for i, (text, _) in enumerate(exercise.steps) if i not in covered]
    assert not missing, "steps no test shows failing on a mistake:\n" + "\n".join(missing)


def test_every_mistake_names_a_step_that_exists_and_a_hint():
    for cases in cases_run_by_tests():
        for mistake in cases.mistakes:
            assert 0 <= mistake.step < len(cases.exercise.steps), (cases.exercise.title, mistake)
            assert mistake.hint.strip(), (cases.exercise.title, mistake)
