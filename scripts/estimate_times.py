"""How long a learner needs for each notebook, estimated from what is in it.

    .venv/bin/python scripts/estimate_times.py           # print them
    .venv/bin/python scripts/estimate_times.py --write   # and state them: headers, 00's map, README

A model, stated so it can be argued with: prose read at 150 words a minute (technical text; tables
are looked up, not counted), 30 s per code cell (read it, run it, read what it printed), 1 min per
picture, 1 min per check-yourself question, 10 min per exercise (try, check, fix once). The times in each
notebook's header, 00's course map and the README are these, rounded up to 5 min
(tests/course/test_course_shape.py keeps them so).
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WORDS_PER_MINUTE, CODE_CELL, PICTURE, QUESTION, EXERCISE = 150, 0.5, 1.0, 1.0, 10.0


# the fast path of each notebook: the parts (its "## " headings, by their start) that carry its idea
FAST_PATHS = {
    "00-start-here": ("## Two machines and a cable", "## The six modes at a glance"),
    "01-bridge": ("## Part 1", "## Part 2"),
    "02-none": ("## Part 1", "## Part 2", "## Part 3"),
    "03-host": ("## Part 1", "## Part 2"),
    "04-container": ("## Part 1", "## Part 2", "## Part 3"),
    "05-macvlan": ("## Part 1", "## Part 2", "## Part 3"),
    "06-vxlan": ("## Part 1", "## Part 2"),
    "07-overlay": ("## Part 1",),
    "08-cnm-vs-cni": ("## Part 1", "## Part 2", "## Part 3"),
    "09-kubernetes": ("## Part 1", "## Part 2", "## Part 3"),
    "10-troubleshooting": ("## A method", "## Case 1", "## Case 4"),
}


def sections(cells, starts: tuple[str, ...]) -> list:
    """The cells under the "## " headings that begin with one of ``starts`` (the heading's cell included)."""
    kept, keep = [], False
    for cell in cells:
        heading = next((line for line in cell.source.splitlines() if line.startswith("## ")), None) \
            if cell.cell_type == "markdown" else None
        if heading is not None:
            keep = heading.startswith(starts)
        if keep:
            kept.append(cell)
    return kept


def minutes(path: Path, fast: bool = False) -> int:
    cells = nbformat.read(path, as_version=4).cells
    if fast:
        cells = sections(cells, FAST_PATHS[path.stem])
    prose = [line for c in cells if c.cell_type == "markdown" for line in c.source.splitlines()
             if not line.startswith("|")]  # a table is looked up, not read through
    words = sum(len(re.findall(r"\w+", line)) for line in prose)
    code = [c for c in cells if c.cell_type == "code"]
    pictures = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    questions = sum(1 for c in code if re.search(r"^ask\(", c.source, re.M))
    exercises = sum(1 for c in code if re.search(r"^exercises\.\w+\.start\(lab\)  #", c.source, re.M))
    total = (words / WORDS_PER_MINUTE + len(code) * CODE_CELL + pictures * PICTURE + questions * QUESTION
             + exercises * EXERCISE)
    return 5 * math.ceil(total / 5)


def spoken(total: int) -> str:
    """90 -> '1 h 30 min', 45 -> '45 min'."""
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest} min" if hours and rest else f"{hours} h" if hours else f"{rest} min"


# what each fast path is, in the words of the notebook's header
FAST_PATH_WORDS = {
    "00-start-here": "the first cable and the six modes",
    "01-bridge": "Parts 1 and 2",
    "02-none": "Parts 1 to 3",
    "03-host": "Parts 1 and 2",
    "04-container": "Parts 1 to 3",
    "05-macvlan": "Parts 1 to 3",
    "06-vxlan": "Parts 1 and 2",
    "07-overlay": "Part 1",
    "08-cnm-vs-cni": "Parts 1 to 3",
    "09-kubernetes": "Parts 1 to 3",
    "10-troubleshooting": "the method, cases 1 and 4",
}
HEADER = re.compile(r"^\*About [^·]+ · ", re.M)


def header_time(path: Path) -> str:
    """What the notebook's header should say before its prerequisites."""
    return (f"*About {spoken(minutes(path))} (fast path {spoken(minutes(path, fast=True))}: "
            f"{FAST_PATH_WORDS[path.stem]}) · ")


def _set_column(table_text: str, column: int, times: dict[str, str]) -> str:
    """The markdown table rows "| NN | ..." with their ``column`` set to times[NN]."""
    lines = []
    for line in table_text.splitlines():
        match = re.match(r"\| (\d\d) \|", line)
        if match and match.group(1) in times:
            cells = line.split("|")
            cells[column] = f" {times[match.group(1)]} "
            line = "|".join(cells)
        lines.append(line)
    return "\n".join(lines) + ("\n" if table_text.endswith("\n") else "")


def write() -> None:
    """State the estimates: each notebook's header, the Time column of 00's map and of the README's."""
    paths = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    times = {p.stem[:2]: spoken(minutes(p)) for p in paths}
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        first = notebook.cells[0]
        first.source = HEADER.sub(header_time(path), first.source, count=1)
        if path.stem == "00-start-here":
            course_map = next(c for c in notebook.cells if c.source.startswith("## Course map"))
            course_map.source = _set_column(course_map.source, 4, times)
        nbformat.write(notebook, path)
    readme = NOTEBOOKS.parent / "README.md"
    readme.write_text(_set_column(readme.read_text(), 3, times))


if __name__ == "__main__":
    grand = 0
    for path in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        grand += minutes(path)
        print(f"{path.stem:24} {spoken(minutes(path)):12} fast path {spoken(minutes(path, fast=True))}")
    print(f"{'the course':24} {spoken(grand)}")
    if "--write" in sys.argv[1:]:
        write()
