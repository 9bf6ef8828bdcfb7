"""The sandbox's first process, which stays outside the lab while PID 1 serves it.

``python -m nethelpers.sandbox FD`` makes the namespaces, forks PID 1 of the sandbox (see
:mod:`nethelpers.sandbox.server`) and then only watches:

* the owner's end of the connection: when the owner hangs up (it closed the lab, exited or
  was killed, even in the middle of a request), PID 1 is killed at once, and with it, by
  the kernel, every process and namespace of the lab;
* PID 1 itself, whose exit status becomes ours;
* a private socket on which PID 1 asks for the few things only a process outside the lab may
  do (:data:`REQUESTS`): write the map of the user namespace that a root lab moves into, and
  in the lab's own VM load a kernel module the lessons need (br_netfilter, as dockerd does).
  Nothing in a node can reach that socket: it is PID 1's, and PID 1 cannot be traced.

It also passes the owner's Ctrl-C (SIGUSR1) on to PID 1.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess

from . import setup

MODULES = {"br_netfilter"}   # the only kernel modules a lab may have loaded (in its own VM)
GUEST = "NETHELPERS_GUEST"   # "1" in the VM backend's guest (nethelpers.vm.agent sets it)
HANGUP = select.POLLHUP | select.POLLERR | select.POLLRDHUP


class Launcher:
    def __init__(self, conn_fd: int, info: dict) -> None:
        self.conn_fd, self.info = conn_fd, info
        self.helper, self.for_child = socket.socketpair()
        self.child = 0

    def watch(self, child: int) -> int:
        """Until PID 1 ends (or the owner hangs up, which ends it); its exit code."""
        self.child = child
        self.for_child.close()
        signal.signal(signal.SIGUSR1, lambda *_: self._signal(signal.SIGUSR1))
        poller = select.poll()
        poller.register(self.conn_fd, select.POLLRDHUP)
        poller.register(self.helper, select.POLLIN)
        pidfd = _pidfd(child)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        while True:
            for fd, events in poller.poll(None if pidfd is not None else 500):
                if fd == self.conn_fd and events & HANGUP:
                    self._signal(signal.SIGKILL)  # the owner is gone
                elif fd == self.helper.fileno():
                    if not self._answer():
                        poller.unregister(self.helper)
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status) if status else 0

    def _signal(self, signum: int) -> None:
        try:
            os.kill(self.child, signum)
        except ProcessLookupError:
            pass

    def _answer(self) -> bool:
        """One request from PID 1; False when it closed its end."""
        line = self.helper.recv(256).decode(errors="replace").strip()
        if not line:
            return False
        word, _, argument = line.partition(" ")
        try:
            answer = REQUESTS[word](self, argument)
        except (KeyError, OSError, subprocess.SubprocessError):
            answer = "no"
        self.helper.sendall(answer.encode() + b"\n")
        return True

    def _map(self, argument: str) -> str:
        setup.map_user_namespace(self.child, self.info["lab_uid"])
        return "ok"

    def _load_module(self, name: str) -> str:
        if os.environ.get(GUEST) != "1" or name not in MODULES:
            return "no"  # on this machine's kernel nothing is loaded: it is not the lab's
        with open("/proc/sys/kernel/modprobe") as f:
            helper = f.read().strip()
        ok = subprocess.run([helper, name], capture_output=True, timeout=60).returncode == 0
        return "ok" if ok else "no"


REQUESTS = {"map": Launcher._map, "module": Launcher._load_module}


def ask(sock: socket.socket, request: str) -> bool:
    """PID 1's side: one request to the launcher; whether it was done."""
    if not re.fullmatch(r"[a-z]+( [a-z0-9_]{1,64})?", request):
        return False
    sock.sendall(request.encode() + b"\n")
    return sock.recv(64).strip() == b"ok"


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux < 5.3: poll every half second instead
        return None
