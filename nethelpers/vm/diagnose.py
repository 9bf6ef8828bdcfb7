"""What the doctor reports about the VM backend (stub: filled in with the backend)."""

from __future__ import annotations


def checks() -> list[dict]:
    """One dict per line of the doctor's VM section, in order.

    Each has ``name`` (at most 16 characters), ``ok`` (bool), ``detail`` (what was found),
    ``fix`` (what to do when not ok; "" when ok), ``required`` (bool: the VM backend cannot
    run without it) and ``optional`` (bool).
    """
    return [{"name": "vm backend", "ok": False, "detail": "not built yet", "fix": "",
             "required": True, "optional": False}]
