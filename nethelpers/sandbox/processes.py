"""Commands in nodes: one-shot with a timeout, or in the background until stopped.

The sandbox is PID 1 of its own PID namespace, so every process started here —
and anything those processes start — is killed by the kernel when the sandbox
ends. Orphans that a shell leaves behind are reparented to us and reaped here.

A command's argv and environment are made in ``commands``, its pipes read and fed in ``streams``.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

from ..errors import CommandTimeout, InvalidValue, NotFound
from ..i18n import _
from . import nodes, programs
from .commands import PACKAGES, PATH  # noqa: F401 (nethelpers.doctor.host reads them here)
from .commands import argv_of, environment
from .setup import STATE_DIR
from .streams import READ, Output, _capacity, _drain, _Feed, _log_pipe, _pipe

DRAIN_TICK = 0.02    # seconds: how often run() drains background pipes while it waits


def _exit_fd(pid: int) -> int | None:
    """A descriptor that becomes readable when process ``pid`` exits (None: not on this kernel)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class Background:
    """A command started with ``start``: until it is stopped, its process, the named pipe its
    output goes to (``log``), our end of it (``fd``, None at its end) and what it printed."""

    def __init__(self, id: int, node: str | None, command: str, popen: subprocess.Popen | programs.Program,
                 log: str, fd: int) -> None:
        self.id, self.node, self.command, self.popen, self.log = id, node, command, popen, log
        self.fd: int | None = fd
        self.output = Output()


class Processes:
    """Starts commands in nodes and keeps track of the background ones."""

    IDLE_TICK = 0.1  # seconds: how often the server calls idle() while no request comes

    def __init__(self, net) -> None:
        self.net = net
        self.background: dict[int, Background] = {}
        self.leftover: set[int] = set()  # pipes of finished commands, held by what they left running
        self.next_drain = 0.0  # when run() drains background pipes next
        self.next_id = 1
        self.foreground: subprocess.Popen | programs.Program | None = None  # the command run() waits for

    def _spawn(self, node: str | None, argv: list[str], **kwargs) -> subprocess.Popen | programs.Program:
        path = self.net.node(node).path if node is not None else None

        def enter() -> None:
            nodes.enter(path, self.net.etc_dir, node)

        if programs.module_of(argv) and kwargs.get("stdin") != subprocess.PIPE:
            return programs.start(argv, env=environment(), preexec=enter, start_new_session=True, **kwargs)
        return subprocess.Popen(argv, env=environment(), start_new_session=True, close_fds=True,
                                preexec_fn=enter, **kwargs)

    def run(self, node: str | None, command, timeout: float = 30, input: str | None = None,
            asked: float | None = None) -> dict:
        """Run to completion, its output read from pipes into bounded :class:`Output`s. Done when
        its process exits: what it left running (``sleep 9 &``) may hold the pipes on, which are
        then drained until it closes them (see :meth:`idle`).
        ``asked``: the timeout the caller gave, when ``timeout`` is it stretched for a slow VM."""
        argv = argv_of(command)
        (out_fd, out_w), (err_fd, err_w) = _pipe(), _pipe()
        out, err = Output(), Output()
        try:
            proc = self._spawn(node, argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                               stdout=out_w, stderr=err_w)
        except BaseException:
            os.close(out_fd)
            os.close(err_fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        self.foreground = proc
        done = False
        try:
            done = self._wait(proc, {out_fd: out, err_fd: err}, timeout, input)
        finally:
            if not done:  # timed out, or failed while waiting: nothing is left running
                _kill_group(proc)
            self.foreground = None
            self._let_go(out_fd, out)
            self._let_go(err_fd, err)
        self._forget_after(node)
        if not done:
            took = (_("{asked} s ({timeout} s in this VM, whose CPU is emulated)").format(
                        asked=f"{asked:g}", timeout=f"{timeout:g}")
                    if asked is not None and asked != timeout else _("{timeout} s").format(timeout=f"{timeout:g}"))
            raise CommandTimeout(_(
                "{command} in node {node} ran longer than {took} and was killed; "
                "give it a bound (e.g. ping -c 3 -W 1, timeout 5 …) or pass a larger timeout=. "
                "Output so far: {output}").format(
                    command=repr(_short(command)), node=repr(node), took=took, output=repr(out.last(300))))
        (stdout, out_dropped), (stderr, err_dropped) = out.text(), err.text()
        return {"rc": proc.returncode, "stdout": stdout, "stderr": stderr,
                "dropped": {"stdout": out_dropped, "stderr": err_dropped}}

    def _wait(self, proc, outputs: dict[int, Output], timeout: float | None, input: str | None) -> bool:
        """Wait for ``proc`` to exit while reading its output pipes into ``outputs`` and feeding it
        ``input``; False if it still runs after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        poller = select.poll()
        for fd in outputs:
            poller.register(fd, select.POLLIN)
        exited = _exit_fd(proc.pid)
        if exited is not None:
            poller.register(exited, select.POLLIN)
        feed = _Feed(proc.stdin, input, poller)
        try:
            while proc.poll() is None:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                for fd, _event in poller.poll(self._poll_ms(deadline, exited is None)):
                    if fd in outputs and not _drain(fd, outputs[fd], READ):
                        poller.unregister(fd)  # its end: every writer closed it
                    elif fd == feed.fd:
                        feed.write()
                if time.monotonic() >= self.next_drain:
                    self._drain_background()
            return True
        finally:
            feed.close()
            if exited is not None:
                os.close(exited)

    def _poll_ms(self, deadline: float | None, no_exit_fd: bool) -> float | None:
        """How long to wait for something to read (ms): until the deadline, the next drain of
        background pipes, or (without a descriptor that says it exited) a short look at the process."""
        now = time.monotonic()
        waits = [] if deadline is None else [deadline - now]
        if self.leftover or any(bg.fd is not None for bg in self.background.values()):
            waits.append(self.next_drain - now)
        if no_exit_fd:
            waits.append(0.01)
        return max(0.0, min(waits)) * 1000 if waits else None

    def _let_go(self, fd: int, output: Output) -> None:
        """A finished command's pipe: read what its process wrote (all of it is in the pipe, which
        holds at most its capacity); what it left running may hold it on: keep draining it then."""
        if _drain(fd, output, _capacity(fd)):
            self.leftover.add(fd)
        else:
            os.close(fd)

    def idle(self) -> None:
        """Called by the server between requests, every IDLE_TICK seconds."""
        self._drain_background()

    def _drain_background(self) -> None:
        """Read what background commands printed (they wait on a full pipe until then), and
        discard what finished commands' leftovers print (they must not get EPIPE, nor wait)."""
        self.next_drain = time.monotonic() + DRAIN_TICK
        for bg in self.background.values():
            self._drain_log(bg)
        for fd in list(self.leftover):
            if not _drain(fd, None):
                self.leftover.discard(fd)
                os.close(fd)

    def _drain_log(self, bg: Background) -> None:
        if bg.fd is not None and not _drain(bg.fd, bg.output):
            os.close(bg.fd)
            bg.fd = None

    def interrupt(self) -> None:
        """Ctrl-C for the command run() waits for: SIGINT to its process group, as a terminal does."""
        proc = self.foreground
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def start(self, node: str | None, command) -> dict:
        argv = argv_of(command)
        pid_id = self.next_id
        self.next_id += 1
        log = f"{STATE_DIR}/logs/{pid_id}.log"
        fd, out = _log_pipe(log)
        try:
            proc = self._spawn(node, argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        except BaseException:
            os.close(fd)
            os.unlink(log)
            raise
        finally:
            os.close(out)
        self.background[pid_id] = Background(pid_id, node, _short(command), proc, log, fd)
        return {"id": pid_id, "pid": proc.pid}

    def _forget_after(self, node: str | None) -> None:
        """A command may have changed anything in its node (the sandbox root: in any node)."""
        if node is None:
            self.net.forget()
        elif node in self.net.nodes:
            self.net.forget(node)

    def mark_volatile(self) -> None:
        """Nodes with a running background process: their cached state is never trusted.
        (Called before every request: a process may have started or ended since.)"""
        running = {bg.node for bg in self.background.values() if bg.popen.poll() is None}
        for name, n in self.net.nodes.items():
            n.volatile = None in running or name in running

    def _get(self, pid_id: int) -> Background:
        try:
            return self.background[pid_id]
        except KeyError:
            raise NotFound(_("no background process #{id} in this lab (it may have been stopped)").format(
                id=pid_id)) from None

    def status(self, pid_id: int) -> dict:
        bg = self._get(pid_id)
        rc = bg.popen.poll()  # first: all it printed before it exited is then in the pipe
        if time.monotonic() >= self.next_drain:
            self._drain_background()  # (requests may come too often for idle() to run)
        self._drain_log(bg)
        output, dropped = bg.output.text()
        return {"running": rc is None, "rc": rc, "output": output, "dropped": dropped}

    def exited(self, pid_ids: list) -> list[list[int]]:
        """``[id, exit status]`` of those of these background processes that have ended: one
        request however many a caller watches (a Docker host's containers)."""
        if not isinstance(pid_ids, list) or not all(type(i) is int for i in pid_ids):
            raise InvalidValue("exited() takes a list of background process ids")
        return [[i, rc] for i in pid_ids for rc in [self._get(i).popen.poll()] if rc is not None]

    def stop(self, pid_id: int, timeout: float = 2) -> dict:
        bg = self._get(pid_id)
        try:  # the whole group: what a shell command started goes too
            os.killpg(bg.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while bg.popen.poll() is None and time.monotonic() < deadline:
            self._nap(bg)  # it may print much as it ends (tcpdump's summary): keep its pipe drained
        if bg.popen.poll() is None:
            _kill_group(bg.popen)
        self._wait_group(bg.popen.pid, deadline=time.monotonic() + timeout, bg=bg)
        if bg.fd is not None:
            self._let_go(bg.fd, bg.output)
            bg.fd = None
        result = self.status(pid_id)
        del self.background[pid_id]
        try:
            os.unlink(bg.log)
        except FileNotFoundError:
            pass
        self._forget_after(bg.node)
        return result

    def _nap(self, bg: Background | None) -> None:
        """A few ms of waiting for processes to end, ``bg``'s output read meanwhile."""
        if bg is not None:
            self._drain_log(bg)
        time.sleep(0.005)

    def _wait_group(self, pgid: int, deadline: float, bg: Background | None = None) -> None:
        """Wait until every process of the group is gone: `sh -c "tcpdump ..."` ends before
        tcpdump has written its last lines (SIGKILL for what is still there at the deadline)."""
        killed = False
        while True:
            self.reap_orphans()  # the shell's children are ours (PID 1) once it has exited
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            if time.monotonic() > deadline:
                if killed:
                    return  # stuck in the kernel: never hang the lab over it
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    return
                killed, deadline = True, time.monotonic() + 1
            self._nap(bg)

    def stop_in(self, node_names: set[str]) -> None:
        """Stop background processes of nodes about to be removed."""
        for pid_id, bg in list(self.background.items()):
            if bg.node in node_names:
                self.stop(pid_id, timeout=0.5)

    @staticmethod
    def kill_in(netns: set[tuple[int, int]]) -> None:
        """SIGKILL what is still in these network namespaces (:func:`nodes.netns_id` of each): processes
        a command abandoned (``sh -c 'x &'``), which would keep a removed node's namespace alive."""
        for pid in nodes.pids_in(netns):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass  # gone meanwhile

    def list(self) -> list[dict]:
        return [{"id": bg.id, "node": bg.node, "command": bg.command,
                 "running": bg.popen.poll() is None} for bg in self.background.values()]

    def reap_orphans(self) -> None:
        """As PID 1, collect exited processes that are not ours to wait for."""
        tracked = {bg.popen.pid: bg.popen for bg in self.background.values()}
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid == 0:
                return
            if info.si_pid in tracked:
                tracked.pop(info.si_pid).poll()
            else:
                os.waitpid(info.si_pid, 0)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _short(command) -> str:
    # (as results.command_text, which the sandbox does not import: its dataclasses cost the VM's boot)
    text = command if isinstance(command, str) else " ".join(map(str, command))
    return text if len(text) <= 60 else text[:57] + "..."
