"""Execute the course's notebooks in place, the way they are committed.

    .venv/bin/python scripts/run_notebooks.py [notebooks/NN-name.ipynb ...]

Outputs are stored (nbval compares them) with the exercises' reference solutions applied
(NETHELPERS_SOLUTIONS=1, as the test suite runs them); the per-cell execution timestamps that
Jupyter records are dropped, so re-running a notebook changes only what changed. So are widgets'
states and views (00's explorer): their model ids are new on every run, and a widget lives only in
a running kernel; the view's text/plain fallback is kept (nbval compares it, and skips the view).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nethelpers.plot.legibility import CHECK_VARIABLE, PREFIX

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def run(path: Path) -> list[str]:
    """Execute one notebook in place; returns the pictures it reported hard to read."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.resolve().parent)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    nbformat.write(notebook, path)
    print(f"executed {path.name}")
    return [f"{path.name} cell {number}: {line}" for number, cell in enumerate(notebook.cells)
            for output in cell.get("outputs", []) if output.get("name") == "stderr"
            for line in output.get("text", "").splitlines() if line.startswith(PREFIX)]


if __name__ == "__main__":
    os.environ["NETHELPERS_SOLUTIONS"] = "1"  # the kernels inherit it
    os.environ[CHECK_VARIABLE] = "1"          # and report pictures hard to read
    unreadable = []
    for name in sys.argv[1:] or sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        unreadable += run(Path(name))
    if unreadable:  # the tests fail on these (tests/course/test_course_shape.py)
        sys.exit("pictures hard to read:\n" + "\n".join(unreadable))
