"""The report: both backends' lines, then which backend a ``Lab()`` uses here and why."""

from __future__ import annotations

import os
import platform
import textwrap

from .model import BACKENDS, NAME_WIDTH, WIDTH, Check

TITLES = {"namespaces": "Namespaces backend: the lab's nodes are namespaces of this machine's kernel",
          "vm": "VM backend: the same lab inside a small Linux VM that QEMU runs as this user"}
INDENT = " " * (2 + NAME_WIDTH + 1)
SAID = {"namespaces": "namespaces", "vm": "VM"}   # how the verdict names them


def forced(environ=os.environ) -> str | None:
    """NETHELPERS_BACKEND as Lab() reads it: None when unset, empty or "auto"."""
    value = environ.get("NETHELPERS_BACKEND") or None
    return None if value == "auto" else value


def runs(results: list[Check], backend: str) -> bool:
    """Every required line of ``backend`` works (and it has lines at all)."""
    mine = [c for c in results if c.backend == backend]
    return bool(mine) and all(c.ok for c in mine if c.required)


def chosen_backend(results: list[Check], environ=os.environ) -> str | None:
    """The backend a Lab() will use here: namespaces when they work, else the VM when it runs;
    the forced one (NETHELPERS_BACKEND) only if it runs; None when no lab can run."""
    wanted = forced(environ)
    if wanted is not None:
        return wanted if wanted in BACKENDS and runs(results, wanted) else None
    return next((b for b in BACKENDS if runs(results, b)), None)


def lab_can_run(results: list[Check], environ=os.environ) -> bool:
    """True when a Lab() can start here, with either backend (or the one NETHELPERS_BACKEND forces)."""
    return chosen_backend(results, environ) is not None


def _wrap(text: str, first: str) -> list[str]:
    """``text`` after ``first``, wrapped to WIDTH under the detail column; "\\n" starts a new line,
    and lines that start with four spaces (commands, file contents) are kept as they are."""
    out = []
    for i, part in enumerate(text.split("\n")):
        lead = first if i == 0 else INDENT
        if part.startswith("    "):
            out.append((lead + part).rstrip())
            continue
        out += textwrap.wrap(part, WIDTH, initial_indent=lead, subsequent_indent=INDENT,
                             break_on_hyphens=False, break_long_words=False) or [lead.rstrip()]
    return out


def render_line(c: Check) -> list[str]:
    """A check's lines: mark, name and detail, then the fix of a failure, wrapped."""
    lines = _wrap(c.detail, f"{c.mark} {c.name:<{NAME_WIDTH}} ")
    if not c.ok and c.fix and not c.skipped:
        lines += _wrap(c.fix, INDENT + "fix: ")
    return lines


def _blockers(results: list[Check], backend: str) -> str:
    failed = [c.name for c in results if c.backend == backend and c.required and not c.ok and not c.skipped]
    return ", ".join(failed) or "its checks"


def verdict(results: list[Check], environ=os.environ) -> str:
    """Which backend a Lab() uses here, and why; or why none can run."""
    wanted, chosen = forced(environ), chosen_backend(results, environ)
    vm = runs(results, "vm")
    sandbox = next((c for c in results if c.name == "sandbox" and c.backend == "namespaces"), None)
    gaps = [c.name for c in results if c.backend == "namespaces" and c.ok is False
            and not (c.required or c.optional or c.skipped)]
    how = ("rootless, in a user namespace (no sudo needed)" if sandbox and "rootless" in sandbox.detail
           else "as root")
    said = []
    if wanted is not None and wanted not in BACKENDS:
        return (f"NETHELPERS_BACKEND={wanted!r} is not a lab backend: Lab() refuses it. Set it to namespaces "
                f"or vm, or unset it to let Lab() choose (here it would take "
                f"{next((b for b in BACKENDS if runs(results, b)), 'neither: no lab can run')}).")
    if wanted is not None:
        said.append(f"NETHELPERS_BACKEND={wanted} forces the choice: Lab() uses the {SAID[wanted]} backend only.")
    if chosen == "namespaces":
        extra = f"; missing: {', '.join(gaps)} (see the fixes above)" if gaps else ""
        said.append(f"A lab can run here: {how}, with the namespaces backend (this machine's kernel)"
                    f"{extra}. Lab() uses it.")
        if vm and wanted is None:
            said.append("The VM backend would run too (NETHELPERS_BACKEND=vm).")
    elif chosen == "vm":
        why = ("" if wanted else f" because the namespaces backend fails here "
               f"({_blockers(results, 'namespaces')}; see above)")
        said.append(f"A lab can run here: with the VM backend (a Linux VM that QEMU runs as this user, "
                    f"no privileges needed). Lab() uses it{why}.")
    elif wanted is not None:
        other = next(b for b in BACKENDS if b != wanted)
        said.append(f"No lab can run here with NETHELPERS_BACKEND={wanted}: the {SAID[wanted]} backend fails "
                    f"({_blockers(results, wanted)}; see the fixes above)."
                    + (f" Unset NETHELPERS_BACKEND: the {SAID[other]} backend runs here." if runs(results, other)
                       else ""))
    else:
        said.append(f"No lab can run here: the namespaces backend fails ({_blockers(results, 'namespaces')}) "
                    f"and so does the VM backend ({_blockers(results, 'vm')}); see the fixes above. The "
                    "notebooks still show their stored outputs.")
    return " ".join(said)


def report(results: list[Check], environ=os.environ) -> str:
    """Plain text: a section per backend (mark, name, detail, and the fix of failures), then the verdict."""
    lines = [f"nethelpers doctor — kernel {platform.release()}, uid {os.geteuid()}",
             "(✓ works, ✗ missing: fix below, – missing but the course does not need it, ? not run)"]
    for backend in BACKENDS:
        section = [c for c in results if c.backend == backend]
        if section:
            lines += ["", TITLES[backend]]
            for c in section:
                lines += render_line(c)
    lines.append("")
    lines += textwrap.wrap(verdict(results, environ), WIDTH, break_on_hyphens=False)
    return "\n".join(lines)
