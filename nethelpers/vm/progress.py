"""The VM's boot, shown while it happens: a bar in a notebook, a line on a terminal.

In a notebook the bar is one text output that is updated in place and ends as the lab's
one-line notice (see :mod:`nethelpers.backends`); on a terminal it is rewritten on stderr.
"""

from __future__ import annotations

import sys
import time

from ..i18n import _

WIDTH = 24


class BootProgress:
    """``stage(text, fraction)`` as the boot goes; ``done(line)`` leaves ``line``."""

    def __init__(self, display=None, stream=None) -> None:
        self.display = display          # an IPython DisplayHandle, or None
        self.stream = stream            # a terminal stream, or None
        self.started = time.monotonic()
        self.shown = 0.0   # when the notebook's bar was last redrawn
        self.last = ""

    def stage(self, text: str, fraction: float) -> None:
        filled = int(WIDTH * max(0.0, min(1.0, fraction)))
        starting, said = _("Lab: starting a Linux VM"), _(text)  # (stages are marked N_ where they are named)
        line = f"{starting} [{'#' * filled}{'-' * (WIDTH - filled)}] {time.monotonic() - self.started:4.1f} s  {said}"
        now = time.monotonic()
        if self.display is not None and (text != self.last or now - self.shown >= 0.5):
            self.display.update({"text/plain": line}, raw=True)
            self.shown = now
        elif self.stream is not None and self.stream.isatty():
            self.stream.write("\r\033[K" + line)
            self.stream.flush()
        elif self.stream is not None and text != self.last:  # a log: one line per step
            self.stream.write(f"{starting}: {said}\n")
            self.stream.flush()
        self.last = text

    def done(self, line: str) -> None:
        if self.display is not None:
            self.display.update({"text/plain": line}, raw=True)
        elif self.stream is not None:
            self.stream.write(("\r\033[K" if self.stream.isatty() else "") + line + "\n")
            self.stream.flush()


def for_terminal() -> BootProgress:
    return BootProgress(stream=sys.stderr)
