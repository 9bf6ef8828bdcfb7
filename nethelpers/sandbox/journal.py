"""The undo journal of a batch of network operations (see :mod:`.network`).

Each ``op_*`` records how to undo what it did; a batch that fails half-way replays the
records backwards before the error reaches the caller.
"""

from __future__ import annotations


class Journal:
    """Undo steps of the operations done so far, replayed backwards on failure."""

    def __init__(self) -> None:
        self.undo: list = []

    def record(self, step) -> None:
        self.undo.append(step)

    def rollback(self) -> None:
        for step in reversed(self.undo):
            try:
                step()
            except Exception:  # best effort: the kernel may have removed it already
                pass
        self.undo.clear()
