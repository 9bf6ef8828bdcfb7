"""Commands in nodes: one-shot with a timeout, or in the background until stopped.

The sandbox is PID 1 of its own PID namespace, so every process started here —
and anything those processes start — is killed by the kernel when the sandbox
ends. Orphans that a shell leaves behind are reparented to us and reaped here.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

from ..errors import CommandTimeout, MissingFeature, NotFound
from . import nodes, programs
from .setup import STATE_DIR

# root's usual PATH, then the directory of the Python running the lab (on Binder the
# only python3 there is), so that `python3 -m http.server` works in a node anywhere
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + os.path.dirname(sys.executable)

# which Debian/Ubuntu package brings a tool the lessons use
PACKAGES = {
    "ip": "iproute2", "bridge": "iproute2", "ss": "iproute2", "tc": "iproute2",
    "iptables": "iptables", "iptables-save": "iptables", "ip6tables": "iptables",
    "nft": "nftables", "tcpdump": "tcpdump", "ping": "iputils-ping", "arping": "iputils-arping",
    "iperf3": "iperf3", "conntrack": "conntrack", "nc": "netcat-openbsd", "curl": "curl",
    "dig": "bind9-dnsutils", "nslookup": "bind9-dnsutils", "wget": "wget", "ethtool": "ethtool",
}


class Background:
    """A command started with ``start``: until it is stopped, its process and its log."""

    def __init__(self, id: int, node: str | None, command: str, popen: subprocess.Popen | programs.Program,
                 log: str) -> None:
        self.id, self.node, self.command, self.popen, self.log = id, node, command, popen, log


# where the nethelpers package lives: the lab's own programs (docker-proxy, the web
# server) run as `python -m nethelpers...` in nodes, installed or not
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "TERM", "USER", "LOGNAME")}
    env.update(PATH=PATH, LC_ALL="C.UTF-8", LANG="C.UTF-8", PYTHONUNBUFFERED="1",
               PYTHONPATH=PACKAGE_ROOT)
    return env


def argv_of(command: str | list[str]) -> list[str]:
    """A list runs as is; a string runs through /bin/sh (pipes, redirections, &&)."""
    if isinstance(command, (list, tuple)):
        argv = [str(a) for a in command]
        program = argv[0]
    else:
        argv = ["/bin/sh", "-c", command]
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            words = []  # unbalanced quotes: let the shell say what is wrong
        # the first word as the shell sees it: "true;" runs true, "now()" defines a function
        program = words[0].rstrip(";&|") if words else ""
        if program.endswith("()"):
            program = ""
    if program and "=" not in program and not _is_shell_word(program) \
            and not _on_path(program):
        package = PACKAGES.get(os.path.basename(program))
        fix = f"install it: sudo apt-get install {package}" if package else "install it or check the spelling"
        raise MissingFeature(f"{program!r} is not installed on this machine; {fix}")
    return argv


def _on_path(program: str) -> bool:
    """Whether ``program`` runs, as exec looks it up (shutil.which, without importing shutil and
    the compression modules it loads: the VM backend's agent imports this module at boot)."""
    candidates = [program] if "/" in program else [os.path.join(d, program) for d in PATH.split(":") if d]
    return any(os.path.isfile(path) and os.access(path, os.X_OK) for path in candidates)


def _output_file():
    """An anonymous file in the sandbox's state directory (a tmpfs): gone when closed."""
    return os.fdopen(os.open(STATE_DIR, os.O_TMPFILE | os.O_RDWR, 0o600), "w+b")


def _is_shell_word(word: str) -> bool:
    return word in {"cd", "echo", "exit", "export", "for", "if", "while", "set", "test", "[",
                    "true", "false", "read", "sleep", "exec", "trap", "wait", "kill", "{", "(",
                    "printf", "type", "command", "ulimit", "umask", "."} or word.startswith("(")


class Processes:
    """Starts commands in nodes and keeps track of the background ones."""

    IDLE_TICK = 0.1  # seconds: how often the server calls idle() while no request comes

    def __init__(self, net) -> None:
        self.net = net
        self.background: dict[int, Background] = {}
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
        """Run to completion. Output goes to files, not pipes, so that a process the
        command leaves running in the background (``sleep 9 &``) does not hold us up.
        ``asked``: the timeout the caller gave, when ``timeout`` is it stretched for a slow VM."""
        argv = argv_of(command)
        with _output_file() as out, _output_file() as err:
            proc = self._spawn(node, argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                               stdout=out, stderr=err)
            self.foreground = proc
            try:
                if input is not None:
                    proc.communicate(input.encode(), timeout=timeout)
                else:
                    proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                self._forget_after(node)
                took = (f"{asked:g} s ({timeout:g} s in this VM, whose CPU is emulated)"
                        if asked is not None and asked != timeout else f"{timeout:g} s")
                raise CommandTimeout(
                    f"{_short(command)!r} in node {node!r} ran longer than {took} and was killed; "
                    f"give it a bound (e.g. ping -c 3 -W 1, timeout 5 …) or pass a larger timeout=. "
                    f"Output so far: {_read(out)[-300:]!r}") from None
            finally:
                self.foreground = None
            self._forget_after(node)
            return {"rc": proc.returncode, "stdout": _read(out), "stderr": _read(err)}

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
        with open(log, "wb") as out:
            proc = self._spawn(node, argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.background[pid_id] = Background(pid_id, node, _short(command), proc, log)
        return {"id": pid_id, "pid": proc.pid}

    def idle(self) -> None:
        """Called by the server between requests, every IDLE_TICK seconds."""

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
            raise NotFound(f"no background process #{pid_id} in this lab (it may have been stopped)") from None

    def status(self, pid_id: int) -> dict:
        bg = self._get(pid_id)
        with open(bg.log, "rb") as f:
            output = f.read().decode(errors="replace")
        return {"running": bg.popen.poll() is None, "rc": bg.popen.returncode, "output": output}

    def stop(self, pid_id: int, timeout: float = 2) -> dict:
        bg = self._get(pid_id)
        try:  # the whole group: what a shell command started goes too
            os.killpg(bg.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            bg.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(bg.popen)
        self._wait_group(bg.popen.pid, deadline=time.monotonic() + timeout)
        result = self.status(pid_id)
        del self.background[pid_id]
        self._forget_after(bg.node)
        return result

    def _wait_group(self, pgid: int, deadline: float) -> None:
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
            time.sleep(0.005)

    def stop_in(self, node_names: set[str]) -> None:
        """Stop background processes of nodes about to be removed."""
        for pid_id, bg in list(self.background.items()):
            if bg.node in node_names:
                self.stop(pid_id, timeout=0.5)

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


def _read(file) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def _short(command) -> str:
    # (as results.command_text, which the sandbox does not import: its dataclasses cost the VM's boot)
    text = command if isinstance(command, str) else " ".join(map(str, command))
    return text if len(text) <= 60 else text[:57] + "..."
