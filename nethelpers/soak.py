"""``python -m nethelpers bench-soak``: open and close many labs; nothing may pile up.

Each round opens a lab, makes a node, runs a command in it and closes it. The owner's open
file descriptors and memory (RSS) are read before, after the first tenth of the rounds
(the warm-up: imports, caches) and at the end; then every process this machine has is
checked: none may descend from this one that did not before.
"""

from __future__ import annotations

import json
import os
import sys
import time

from .lab import Lab


def owner_state() -> dict:
    """This process's open file descriptors and resident memory (KiB)."""
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return {"fds": len(os.listdir("/proc/self/fd")), "rss_kib": rss}


def leftovers() -> list[str]:
    """Processes of this machine still there from the labs: any descendant of this process
    (a lab's launcher, its sandbox, anything they started)."""
    children: dict[str, list[str]] = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        children.setdefault(parent, []).append(entry)
    found, todo = [], list(children.get(str(os.getpid()), []))
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/comm") as f:
                found.append(f"{pid} ({f.read().strip()})")
        except OSError:
            continue
        todo += children.get(pid, [])
    return found


def soak(rounds: int, progress=None) -> dict:
    """Open and close ``rounds`` labs; the owner's state along the way and what is left."""
    states, started = [owner_state()], time.monotonic()
    there_before = set(leftovers())  # (e.g. a VM this process runs: not the labs' doing)
    for i in range(rounds):
        with Lab() as lab:
            lab.add_node("a").run("true", check=True)
        if i + 1 == max(1, rounds // 10):
            states.append(owner_state())
        if progress and (i + 1) % 100 == 0:
            progress(f"{i + 1} labs")
    states.append(owner_state())
    seconds = time.monotonic() - started
    return {"rounds": rounds, "seconds": round(seconds, 1), "per_lab_ms": round(1000 * seconds / rounds, 1),
            "before": states[0], "warm": states[1], "after": states[-1],
            "leftovers": [p for p in leftovers() if p not in there_before]}


def main(rounds: int, quiet: bool = False) -> int:
    report = soak(rounds, None if quiet else lambda text: print(text, file=sys.stderr))
    print(json.dumps(report, indent=2))
    warm, after = report["warm"], report["after"]
    flat = after["fds"] <= warm["fds"] and after["rss_kib"] - warm["rss_kib"] < 8 * 1024
    return 0 if flat and not report["leftovers"] else 1
