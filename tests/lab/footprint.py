"""What a lab occupies on the machine, seen from outside: processes and namespaces.

Used to prove that closing a lab, or killing its owner, leaves nothing behind:
a namespace exists only while a process, a mount or an fd holds it, so when no
process on the machine is in the sandbox's mount namespace (where the nodes'
/run/netns bind mounts live) nor in any node's network namespace, they are gone.
"""

from __future__ import annotations

import os
import time


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children(p)
    return found


def ns_inode(pid: int | str, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def of_lab(lab) -> dict:
    """Pids of the sandbox and the inodes of its mount and network namespaces (read by a
    command in the sandbox: PID 1 of a lab cannot be traced, so its owner may not read them)."""
    pids = descendants(lab._sandbox.pid)
    inodes = {lab.run_in_sandbox(f"stat -L -c %i /run/netns/{n.name}").stdout.strip()
              for n in lab.nodes()}
    own = lab.run_in_sandbox("stat -L -c %i /proc/self/ns/mnt /proc/self/ns/net").stdout.split()
    return {"pids": set(pids), "mnt": int(own[0]), "net": {int(i) for i in inodes if i} | {int(own[1])}}


def holders(footprint: dict) -> list[str]:
    """Processes on this machine still alive from the lab or inside its namespaces."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in footprint["pids"]:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                found.append(f"pid {pid} still running")
            continue
        mnt = ns_inode(pid, "mnt")
        if (mnt is not None and mnt == footprint["mnt"]) or ns_inode(pid, "net") in footprint["net"]:
            found.append(f"pid {pid} is inside the lab's namespaces")
    return found


def wait_gone(footprint: dict, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        left = holders(footprint)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
