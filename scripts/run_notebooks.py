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

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def run(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    nbformat.write(notebook, path)
    print(f"executed {path.name}")


if __name__ == "__main__":
    os.environ["NETHELPERS_SOLUTIONS"] = "1"  # the kernels inherit it
    for name in sys.argv[1:] or sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        run(Path(name))
