"""Waiting, bounded, for something the kernel does asynchronously (a namespace freed, a peer learned)."""

from __future__ import annotations

import time


def wait_until(check, timeout: float = 8) -> float:
    """Poll ``check()`` every 0.1 s until it is true; fail after ``timeout`` seconds. Returns the time taken."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"timed out after {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - start
