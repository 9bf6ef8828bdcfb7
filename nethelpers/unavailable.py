"""When no lab can run here (no namespaces and no VM): one banner, then one line per cell.

In a notebook the first ``Lab()`` that fails shows a short banner (why, and the fix); every
later cell that needs a lab — a ``Lab()`` again, or a cell using ``lab`` that was never made
(a NameError) — shows one ``LabUnavailable`` line instead of a traceback. Run All stops at
the first, so the stored outputs below stay on the page. Outside a notebook nothing changes:
``LabUnavailable`` is raised with the whole message.
"""

from __future__ import annotations

import sys

from .errors import LabUnavailable

SHORT = ("LabUnavailable: no lab can run on this machine (see the first lab cell's message); "
         "the stored outputs show what this cell prints.")
_verdict: LabUnavailable | None = None   # set once nothing could run, for this process
_shown = False


def verdict() -> LabUnavailable | None:
    """The reason no lab can run, if that was found already (later Lab()s fail at once)."""
    return _verdict


def record(error: LabUnavailable, namespaces: str, vm: str) -> LabUnavailable:
    """Remember that nothing runs; in a notebook, show its banner instead of a traceback."""
    global _verdict
    _verdict = error
    error.banner = _banner(namespaces, vm)
    shell = _shell()
    if shell is not None:
        shell.set_custom_exc((LabUnavailable, NameError), _handler)
    return error


def _banner(namespaces: str, vm: str) -> str:
    return "\n".join([
        "No lab can run on this machine, so the cells that build one cannot run here; their stored",
        "outputs show what they print.",
        f"  • network namespaces: {namespaces}",
        f"  • the VM backend:     {vm}",
        "Fix one of the two (install QEMU: `sudo apt-get install qemu-system-x86 busybox-static`,",
        "or open the course on your own Linux machine, in the devcontainer or on Binder);",
        "`python -m nethelpers doctor` checks everything and gives each fix."])


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and hasattr(shell, "kernel") else None


def _handler(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: the banner once, then one line; other NameErrors as usual."""
    global _shown
    if issubclass(etype, NameError) and _verdict is None:
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    if issubclass(etype, LabUnavailable) and not _shown and getattr(value, "banner", None):
        _shown = True
        print(value.banner, file=sys.stderr)
    else:
        print(SHORT, file=sys.stderr)
    return None
