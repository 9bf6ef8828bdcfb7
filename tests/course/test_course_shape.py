"""What every chapter holds besides its build (issue 17): check-yourself questions, a failing check
kept on purpose, the course's reference pages linked from the map; and no stored picture reported
hard to read (nethelpers/plot/legibility.py writes such a report to the cell's stderr)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
# both editions hold the same shape; the Chinese one's checkers speak Chinese (nethelpers/i18n)
EDITIONS = NOTEBOOKS + sorted((ROOT / "notebooks" / "zh-CN").glob("[0-9]*.ipynb"))
EDITION_IDS = [p.stem if p.parent.name == "notebooks" else f"zh-CN/{p.stem}" for p in EDITIONS]
SAID = {"en": {"question": "Check yourself: ", "solved": "Well done"},
        "zh-CN": {"question": "自测：", "solved": "做得好"}}


def _said(path, what: str) -> str:
    return SAID["zh-CN" if path.parent.name == "zh-CN" else "en"][what]


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _text(output) -> str:
    return output.get("text") or output.get("data", {}).get("text/plain", "")


@pytest.mark.parametrize("path", EDITIONS, ids=EDITION_IDS)
def test_at_least_three_questions_each_shown_before_what_it_asks_about(path):
    cells = _cells(path)
    asked = [i for i, c in enumerate(cells) if c.cell_type == "code" and re.search(r"^ask\(", c.source, re.M)]
    assert len(asked) >= 3
    for i in asked:
        shown = "".join(_text(o) for o in cells[i].outputs)
        assert shown.startswith(_said(path, "question")), f"cell {i} stores no question"
        assert any(c.cell_type == "code" for c in cells[i + 1:i + 3]), f"nothing to predict after cell {i}"


@pytest.mark.parametrize("path", EDITIONS, ids=EDITION_IDS)
def test_one_failing_check_is_kept_with_its_hint(path):
    cells = _cells(path)
    kept = [c for c in cells if c.cell_type == "code" and "check(lab, as_is=True)" in c.source]
    assert len(kept) == 1
    shown = "".join(_text(o) for o in kept[0].outputs)
    assert re.search(r"^✗ .+\n    \S", shown, re.M), "the stored output shows no failing step with its hint"
    assert _said(path, "solved") not in shown


@pytest.mark.parametrize("path", EDITIONS, ids=EDITION_IDS)
def test_no_stored_picture_was_reported_hard_to_read(path):
    reports = [f"cell {i}: {line}" for i, c in enumerate(_cells(path)) if c.cell_type == "code"
               for o in c.outputs if o.get("name") == "stderr"
               for line in o.get("text", "").splitlines() if line.startswith("figure check:")]
    assert reports == []


def test_the_course_map_links_the_reference_pages():
    readme = (ROOT / "README.md").read_text()
    start = "".join(c.source for c in _cells(ROOT / "notebooks/00-start-here.ipynb") if c.cell_type == "markdown")
    for page in ("glossary.md", "cheatsheet.md", "further-reading.md", "docker-desktop-and-rootless.md"):
        assert (ROOT / "docs" / page).is_file()
        assert f"(docs/{page})" in readme and f"(../docs/{page})" in start, page


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not target.startswith("mailto:"):
                if not (page.parent / target).exists():
                    broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_stated_times_are_the_estimates():
    """Each notebook's header, 00's map and the README say what scripts/estimate_times.py estimates
    from the notebook as it is now (run it with --write after changing a notebook)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("estimate_times", ROOT / "scripts/estimate_times.py")
    times = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(times)
    readme = (ROOT / "README.md").read_text()
    start = _cells(ROOT / "notebooks/00-start-here.ipynb")[1].source
    for path in NOTEBOOKS:
        assert times.header_time(path) in _cells(path)[0].source, path.stem
        stated = times.spoken(times.minutes(path))
        number = path.stem[:2]
        assert re.search(rf"^\| {number} \|[^\n]*\| {stated} \| ", readme, re.M), (path.stem, stated)
        assert re.search(rf"^\| {number} \|[^\n]*\| {stated} \| ", start, re.M), (path.stem, stated)
