"""The lab's own Python programs, started by forking the sandbox instead of a new interpreter.

The lab runs programs of its own in nodes — the web server of its images, ``docker-proxy``,
the embedded DNS, the overlay agents, the tracer's probe — each as
``python -m nethelpers.<module> ...``. A fresh interpreter costs 30–60 ms here and one to two
seconds in the VM backend, whose CPU is emulated, and 10–12 MB of memory each. The sandbox has
that interpreter and most of those imports loaded already, so :func:`start` forks it and runs
the module as ``__main__`` in the child: what ``python -m`` would do, minus the start-up, with
its memory shared copy-on-write.

The child looks as an executed one would: its own session, the node's namespaces, only the
three standard streams open, the given environment, default signal handlers, and
``/proc/PID/cmdline`` and ``comm`` as ``python -m`` gives them (``ps``, ``pgrep -f``, ``ss -p``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from . import syscalls as sc

PREFIX = "nethelpers."


def module_of(argv: list[str]) -> str | None:
    """The module ``argv`` runs if it is ``[this Python, "-m", "nethelpers.…", …]``, else None."""
    if len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m" and argv[2].startswith(PREFIX):
        return argv[2]
    return None


class Program:
    """A forked program, with the part of :class:`subprocess.Popen` the sandbox uses."""

    def __init__(self, args: list[str], pid: int, stdin=None, stdout=None) -> None:
        self.args = args
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (PID 1 collects orphans): as Popen does
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None and self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = 0
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start(argv: list[str], *, env: dict, preexec: Callable[[], None] | None = None,
          stdin=None, stdout=None, stderr=None, start_new_session: bool = False) -> Program:
    """Fork and run ``argv``'s module (see :func:`module_of`) in the child as ``python -m`` would.
    ``stdin``/``stdout``/``stderr``: None (inherit), ``subprocess.DEVNULL``, ``subprocess.PIPE``,
    ``subprocess.STDOUT`` (stderr only), a file object or a descriptor."""
    module = module_of(argv)
    if module is None:
        raise ValueError(f"not a nethelpers program: {argv!r}")
    ours: list[int] = []    # the parent's ends of pipes
    theirs: list[int] = []  # descriptors the child gets, closed here after the fork

    def child_end(spec, writable: bool) -> int | None:
        if spec is None:
            return None
        if spec == subprocess.DEVNULL:
            end = os.open(os.devnull, os.O_RDWR)
        elif spec == subprocess.PIPE:
            r, w = os.pipe()
            end, mine = (w, r) if writable else (r, w)
            ours.append(mine)
            theirs.append(end)
            return end
        elif isinstance(spec, int):
            return spec
        else:
            return spec.fileno()
        theirs.append(end)
        return end

    in_fd = child_end(stdin, writable=False)
    out_fd = child_end(stdout, writable=True)
    err_fd = out_fd if stderr == subprocess.STDOUT else child_end(stderr, writable=True)
    comm = _exec_comm(argv[0])
    pid = os.fork()
    if pid == 0:
        _run_child(module, argv, env, preexec, (in_fd, out_fd, err_fd), start_new_session, comm)
    for fd in theirs:
        os.close(fd)
    pipe_in = os.fdopen(ours.pop(0), "wb") if stdin == subprocess.PIPE else None
    pipe_out = os.fdopen(ours.pop(0), "rb") if stdout == subprocess.PIPE else None
    return Program(argv, pid, pipe_in, pipe_out)


def _exec_comm(program: str) -> str:
    """The name the kernel gives a process executing ``program`` (the file name, 15 bytes)."""
    return os.path.basename(program).encode()[:15].decode(errors="ignore")


def _run_child(module: str, argv: list[str], env: dict, preexec, fds, new_session: bool, comm: str) -> None:
    """In the forked child: become ``python -m module`` and never return."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            if fd is not None:
                os.dup2(fd, target, inheritable=True)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the connection to the owner among them
        sc.allow_tracing()  # as exec would: the lab's program is as open to `ps`, `ss -p`, `strace` as any
        _default_signals()
        if new_session:
            os.setsid()
        if preexec is not None:
            preexec()
        _look_executed(argv, comm)  # first: setproctitle needs the environment it started with
        os.environ.clear()
        os.environ.update(env)
        _standard_streams()
        code = _run_module(module, argv)
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 — as an executed Python would: the traceback, then exit 1
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _default_signals() -> None:
    """Handlers set by the sandbox go back to the default; ignored signals stay ignored, as
    across an exec (and SIGPIPE is ignored, as Python does at start)."""
    signal.set_wakeup_fd(-1)
    for signum in signal.valid_signals():
        try:
            if callable(signal.getsignal(signum)) and signum != signal.SIGINT:
                signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            continue
    if callable(signal.getsignal(signal.SIGINT)):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _standard_streams() -> None:
    """New sys.stdin/stdout/stderr on descriptors 0-2, unbuffered as PYTHONUNBUFFERED=1 makes them."""
    import io

    def text(fd: int, mode: str, errors: str):
        try:
            raw = io.FileIO(fd, mode, closefd=False)
        except OSError:
            return None
        return io.TextIOWrapper(raw if mode == "w" else io.BufferedReader(raw), encoding="utf-8",
                                errors=errors, line_buffering=mode == "w", write_through=mode == "w")

    sys.stdin = text(0, "r", "strict")
    sys.stdout = text(1, "w", "strict")
    sys.stderr = text(2, "w", "backslashreplace")


def _look_executed(argv: list[str], comm: str) -> None:
    """/proc/self/cmdline: argv as given; comm: what exec would have set (not the sandbox's)."""
    try:
        import setproctitle

        setproctitle.setproctitle(" ".join(argv))
    except Exception:  # noqa: BLE001 — only what ps shows
        pass
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(comm)
    except OSError:
        pass


def _run_module(module: str, argv: list[str]) -> int:
    import atexit
    import runpy

    atexit._clear()  # the sandbox's exit handlers are not the program's
    sys.argv = [argv[0], *argv[3:]]
    sys.modules.pop(module, None)  # imported by the sandbox as a library: run a fresh copy
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    atexit._run_exitfuncs()
    return 0


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
