"""The process between the lab's owner and QEMU: QEMU never outlives its owner.

``python -m nethelpers.vm.supervisor QEMU ARGS…`` with a pipe from the owner as stdin: it
starts QEMU as its child with a parent-death signal (so QEMU dies if the supervisor is killed),
and kills QEMU as soon as that pipe reads end-of-file — when the owner closes it, exits, or is
killed with SIGKILL. It exits when QEMU does. Being single-threaded, it can rely on the
parent-death signal, which the owner (a multithreaded Jupyter kernel) could not.
"""

from __future__ import annotations

import ctypes
import os
import resource
import select
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    child = os.fork()
    if child == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() == 1:  # the supervisor died already
                os._exit(1)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            # QEMU wants a descriptor per event notifier: the usual soft limit of 1024 is too few
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    # QEMU holds the channels' fds now; without them here, the owner sees end-of-file when QEMU ends
    for fd in _inherited_fds():
        if fd > 2:
            try:
                os.close(fd)
            except OSError:  # the descriptor listdir used
                pass
    pidfd = os.pidfd_open(child)
    while True:
        ready, _, _ = select.select([0, pidfd], [], [])
        if pidfd in ready:
            break
        if 0 in ready and not os.read(0, 4096):  # the owner is gone
            os.kill(child, signal.SIGKILL)
            break
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 0


def _inherited_fds() -> list[int]:
    return [int(fd) for fd in os.listdir("/proc/self/fd")]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
