"""The VM backend's lines: what :func:`nethelpers.vm.diagnose.checks` finds, as :class:`Check` lines.

The VM backend knows what it needs (QEMU, a kernel, KVM or not, a boot that works); the doctor
only renders its answers, and turns a failure of the diagnosis itself into one line.
"""

from __future__ import annotations

from .causes import one_line
from .model import NAME_WIDTH, Check


def vm_checks() -> list[Check]:
    """One Check per line of the VM section; never raises."""
    try:
        from ..vm import diagnose

        found = diagnose.checks()
        return [_line(item) for item in found] or [_broken("it reported nothing")]
    except Exception as exc:  # a bug in the diagnosis, or a VM probe that blew up: say so in one line
        return [_broken(f"{type(exc).__name__}: {one_line(exc)}")]


def _line(item: dict) -> Check:
    ok = bool(item["ok"])
    return Check(name=str(item["name"])[:NAME_WIDTH], ok=ok, detail=one_line(item.get("detail") or "")
                 or ("works" if ok else "does not work"), fix="" if ok else str(item.get("fix") or ""),
                 required=bool(item.get("required")), optional=bool(item.get("optional")),
                 skipped=bool(item.get("skipped")), backend="vm")


def _broken(why: str) -> Check:
    return Check("vm backend", False, f"its checks failed: {why}",
                 "report this output to the course's maintainers", required=True, backend="vm")
