"""The lab core's public API for the rest of the package: the magics as an IPython extension,
a node's embedded DNS server, kernel modules, lab daemons and HTTP over their unix sockets,
and the lab's state object. Real labs; each test looks at what changed in them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- the magics: an IPython extension that Lab() loads ---------------------------------------
def test_lab_does_not_import_the_magics():
    """lab.py names the extension to IPython; it imports nothing from magics.py (no import circle)."""
    tree = ast.parse(open(os.path.join(REPO, "nethelpers", "lab.py")).read())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                 for alias in node.names}
    assert not {name for name in imported if name and "magics" in name}


EXTENSION_SCRIPT = textwrap.dedent("""
    import nethelpers.magics            # first, alone: it needs nothing else imported before it
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure
    from nethelpers import Lab

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nethelpers")   # by hand, as a learner may
    magic = shell.magics_manager.magics["line"]["lab"]
    png = shell.display_formatter.formatters["image/png"].lookup_by_type(Figure)
    with Lab(), Lab() as lab:        # two labs: the extension is loaded once, not registered again
        assert "nethelpers.magics" in shell.extension_manager.loaded, shell.extension_manager.loaded
        assert shell.magics_manager.magics["line"]["lab"] is magic
        assert shell.display_formatter.formatters["image/png"].lookup_by_type(Figure) is png
        lab.add_node("m")
        shell.run_line_magic("lab", "m echo from-the-node")  # %lab: the newest lab
    """)


def test_lab_loads_the_magics_once_through_the_extension_manager():
    pytest.importorskip("IPython")
    done = subprocess.run([sys.executable, "-c", EXTENSION_SCRIPT], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr
    assert "from-the-node" in done.stdout


def test_a_lab_without_ipython_loads_nothing():
    """Outside IPython (a script, a test) Lab() neither imports IPython's magics nor needs them."""
    script = ("import sys\nfrom nethelpers import Lab\nwith Lab() as lab:\n    lab.add_node('x')\n"
              "assert 'nethelpers.magics' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr
