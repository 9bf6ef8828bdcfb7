"""The guest's PID 1: starts a lab sandbox for each lab its owner opens, and nothing else.

``guest_init.sh`` executes it once the machine's / is the guest's root. It talks to the owner
(:mod:`nethelpers.vm.machine`) over the virtio serial port ``nethelpers.ctl``, one JSON object
per line. For each lab the owner plugs in a serial port ``lab.N`` and says ``open``; the agent
forks a child that becomes that lab's sandbox (:func:`nethelpers.sandbox.server.main`) on that
port, exactly as ``python -m nethelpers.sandbox`` does on the namespaces backend. Forking an
agent that has already imported the sandbox makes a new lab instant; starting Python under
emulation costs seconds.

When the owner goes (the control port reads end-of-file) the agent powers the guest off,
and QEMU exits.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time

PORTS = "/sys/class/virtio-ports"
CONTROL_PORT = "nethelpers.ctl"
RB_POWER_OFF = 0x4321FEDC


def find_port(name: str, timeout: float = 0.0) -> str:
    """/dev/vportNpM of the serial port called ``name`` (waiting for a hot-plugged one)."""
    deadline = time.monotonic() + timeout
    while True:
        for entry in os.listdir(PORTS):
            try:
                with open(f"{PORTS}/{entry}/name") as f:
                    if f.read().strip() == name:
                        return f"/dev/{entry}"
            except OSError:
                continue
        if time.monotonic() >= deadline:
            raise FileNotFoundError(f"no virtio serial port {name!r}")
        time.sleep(0.01)


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def meminfo() -> dict:
    """/proc/meminfo in kB."""
    with open("/proc/meminfo") as f:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f)}


def power_off() -> None:
    import ctypes  # only here: an import less before the agent's hello

    os.sync()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(ctypes.c_int(RB_POWER_OFF))
    os._exit(0)  # not reached: the kernel stops


class Agent:
    def __init__(self, control: int) -> None:
        self.control = control
        self.buffer = b""
        self.labs: dict[int, int] = {}  # lab number -> pid of its sandbox launcher
        self.wakeup_r, self.wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    # --- the control port ----------------------------------------------------------
    def send(self, message: dict) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.control, data):]

    def messages(self):
        """Messages from the owner, reaping children in between; returns at end-of-file."""
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
            ready, _, _ = select.select([self.control, self.wakeup_r], [], [])
            if self.wakeup_r in ready:
                while True:
                    try:
                        if not os.read(self.wakeup_r, 64):
                            break
                    except BlockingIOError:
                        break
                self.reap()
            if self.control in ready:
                chunk = os.read(self.control, 65536)
                if not chunk:
                    return
                self.buffer += chunk

    # --- requests ---------------------------------------------------------------------
    def op_configure(self, sys_path: list[str], env: dict, hostname: str | None = None,
                     sysctls: dict | None = None) -> dict:
        """Take the owner's module path, environment, host name and the machine's sysctls that
        show in tools' output (``ps`` sizes its PID column by kernel.pid_max); load the
        sandbox's code once."""
        sys.path[:] = [p for p in sys_path if p] + [p for p in sys.path if p not in sys_path]
        _prepare_process_titles()  # first: it needs the environment the agent started with
        os.environ.clear()
        os.environ.update(env)
        if hostname:
            socket.sethostname(hostname)
        for key, value in (sysctls or {}).items():
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(value)
        import nethelpers.sandbox.server  # noqa: F401  (every lab is a fork of this process)

        return {"uptime": uptime(), "release": os.uname().release, "memory": meminfo()}

    def op_open(self, lab: int, port: str, env: dict, cwd: str) -> dict:
        """Start lab ``lab``'s sandbox on the serial port ``port`` just plugged in."""
        fd = os.open(find_port(port, timeout=10), os.O_RDWR)
        pid = os.fork()
        if pid == 0:  # the child: the lab's sandbox launcher, as on the namespaces backend
            code = 1
            try:
                os.setsid()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for unused in (self.control, self.wakeup_r, self.wakeup_w):
                    os.close(unused)
                os.environ.clear()
                os.environ.update(env, NETHELPERS_GUEST="1")
                try:
                    os.chdir(cwd)
                except OSError:
                    os.chdir("/")
                from nethelpers.sandbox import server

                code = server.main(fd)
            finally:
                os._exit(code)
        os.close(fd)
        self.labs[lab] = pid
        return {"pid": pid}

    def op_interrupt(self, lab: int) -> dict:
        """Ctrl-C in the owner: the lab's running command gets SIGINT (via the launcher)."""
        self._signal(lab, signal.SIGUSR1)
        return {}

    def op_kill(self, lab: int) -> dict:
        self._signal(lab, signal.SIGKILL)
        return {}

    def op_meminfo(self) -> dict:
        return {"memory": meminfo(), "uptime": uptime()}

    def op_poweroff(self) -> dict:
        self.send({"event": "poweroff"})
        power_off()
        return {}

    def _signal(self, lab: int, signum: int) -> None:
        pid = self.labs.get(lab)
        if pid is not None:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def reap(self) -> None:
        """Wait for every child that ended (PID 1 inherits orphans too)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for lab, launcher in list(self.labs.items()):
                if launcher == pid:
                    del self.labs[lab]
                    self.send({"event": "closed", "lab": lab,
                               "status": os.waitstatus_to_exitcode(status)})

    def serve(self) -> None:
        self.send({"event": "hello", "uptime": uptime()})
        for message in self.messages():
            number, op = message.pop("id"), message.pop("op")
            try:
                reply = getattr(self, "op_" + op)(**message)
                self.send({"id": number, "ok": True, **reply})
            except Exception as exc:  # told to the owner, who raises it as a LabError
                self.send({"id": number, "ok": False, "error": f"{type(exc).__name__}: {exc}"})


def _prepare_process_titles() -> None:
    """The lab's programs, forked from a sandbox forked from here, set their process titles
    (nethelpers/sandbox/programs.py). setproctitle finds the memory of the title from the first
    environment, which must not have changed yet: let it look now, once, for every fork."""
    try:
        import setproctitle

        setproctitle.getproctitle()
    except ImportError:
        pass


def main() -> None:
    # the environment is the init script's (PATH, HOME, LANG): changing it here would keep
    # process titles from working (see _prepare_process_titles)
    try:  # inherited by every lab's sandbox; nodes.enter gives what runs in nodes the ordinary 0
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("-1000")
    except OSError:
        pass
    try:
        control = os.open(find_port(CONTROL_PORT, timeout=10), os.O_RDWR | os.O_CLOEXEC)
        Agent(control).serve()
    except BaseException as exc:  # PID 1 must not just exit: the kernel would panic
        print(f"nethelpers agent: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    power_off()


if __name__ == "__main__":
    main()
