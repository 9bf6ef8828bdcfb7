"""The owner's side of the VM: boot it once per process, then open a lab sandbox in it per Lab().

    machine = vm.machine.get(progress)      # boots the guest the first time (seconds)
    sandbox = machine.open_sandbox()        # a serial port plugged in, a sandbox forked (ms)
    sandbox.conn.send(...)                  # the same requests as on the namespaces backend

What the guest sees of this machine is chosen in :mod:`nethelpers.vm.guestview`; the guest's
control channel and console are read in :mod:`nethelpers.vm.control`.

Lifetime: QEMU runs under :mod:`nethelpers.vm.supervisor`, which kills it when this process
closes the supervisor's stdin — on :func:`shutdown`, at exit, or when the kernel reaps a
SIGKILLed owner. No file is left: every channel is a socket pair passed as a descriptor.
"""

from __future__ import annotations

import atexit
import base64
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref

from .. import i18n
from ..backends import child_environment
from ..errors import LabUnavailable
from ..sandbox.channel import Channel
from . import accel as accel_choice
from . import initramfs, kernel, qemu
from .control import Console, Control
from .guestview import _compile_package, _guest_env, _mirrored_sysctls, exports, package_root
from .progress import BootProgress

BOOT_TIMEOUT = {"kvm": 30.0, "tcg": float(os.environ.get("NETHELPERS_VM_BOOT_TIMEOUT", 120))}


def patience(accel: str) -> float:
    """How much longer labs in this VM wait for things: programs run 5-20 times slower when the
    CPU is emulated (NETHELPERS_VM_PATIENCE overrides it)."""
    return float(os.environ.get("NETHELPERS_VM_PATIENCE") or (1 if accel == "kvm" else 10))


# The guest's RAM, in MB. Each program a notebook starts in a node (web servers, docker-proxy,
# iperf3, a learner's python3) holds 5-20 MB of its own; notebook 03 ran out of 256 MB. QEMU
# backs only the pages the guest touches, so the rest costs this machine nothing. Each open lab's
# sandbox holds ~6.6 MB: 62 labs (as many as the serial ports allow) filled 512 MB to the last
# 10-17 MB, and near that edge a new sandbox, thrashing over 9p, took over 30 s to start under load.
DEFAULT_MEMORY_MB = 768


def memory_mb() -> int:
    return int(os.environ.get("NETHELPERS_VM_MEMORY") or DEFAULT_MEMORY_MB)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class GuestSandbox:
    """One lab's sandbox in the guest, as :class:`nethelpers.Lab` sees it."""

    backend = "vm"

    def __init__(self, machine: "Machine", number: int, sock: socket.socket) -> None:
        self.machine, self.number, self.sock = machine, number, sock
        self.conn = Channel(os.dup(sock.fileno()))

    def forget_after_fork(self) -> None:
        """In a forked child of the owner: let go of the lab's port, touch nothing else."""
        self.conn.close()
        self.sock.close()

    def interrupt(self) -> None:
        self.machine.control.request("interrupt", lab=self.number, timeout=5)

    def lost(self) -> None:
        """The sandbox ended: wake whoever waits for its answer (they read end-of-file)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def wait(self, timeout: float) -> None:
        """After a shutdown request: wait for the sandbox to end, kill it if it does not."""
        control = self.machine.control
        try:
            if not control.wait_closed(self.number, timeout):
                control.request("kill", lab=self.number, timeout=5)
                control.wait_closed(self.number, 5)
        except LabUnavailable:
            pass
        self.release()

    def kill(self) -> None:
        """End the sandbox now (its launcher gets SIGKILL in the guest) and unplug its port."""
        self.wait(0)

    def release(self) -> None:
        """Unplug the lab's serial port."""
        self.sock.close()
        self.machine.unplug(self.number)

    def tail(self) -> str:
        return self.machine.console.tail()

    def __del__(self) -> None:
        # a Lab dropped without close(): as on the namespaces backend, its sandbox reads end-of-file
        try:
            self.sock.close()
        except Exception:
            pass


class Machine:
    """The VM of this process. Use :func:`get`."""

    def __init__(self, progress: BootProgress) -> None:
        self.owner = os.getpid()
        self.sandboxes: "weakref.WeakValueDictionary[int, GuestSandbox]" = weakref.WeakValueDictionary()
        self.lock = threading.Lock()
        self.next_lab = 0
        self.boot_seconds = 0.0
        started = time.monotonic()
        progress.stage(i18n.N_("finding QEMU"), 0.02)
        binary = qemu.find_binary()
        if binary is None:
            raise LabUnavailable("the VM backend needs QEMU: sudo apt-get install qemu-system-x86 "
                                 "(Fedora: sudo dnf install qemu-system-x86-core)")
        guest_kernel = kernel.find() or kernel.fetch(lambda what, done: progress.stage(what, 0.05 + 0.25 * done))
        initrd = initramfs.build(guest_kernel)
        self.accel = accel_choice.choose(binary, guest_kernel.vmlinux, initrd, progress)
        self.patience = patience(self.accel)
        self.kernel = guest_kernel
        _compile_package()
        shared, links = exports(guest_kernel.directory)
        tags = [(f"nh{i}", path) for i, path in enumerate(shared)]
        debug = os.environ.get("NETHELPERS_VM_DEBUG") == "1"
        cmdline = " ".join([
            "console=ttyS0", "nh.debug=1" if debug else "quiet", "panic=-1", "nokaslr", "tsc=reliable",
            "i8042.noaux", "i8042.nokbd", "cryptomgr.notests",
            # the guest is the lab's alone: no security modules, audit or CPU-bug mitigations to set up
            "mitigations=off", "security=none", "apparmor=0", "audit=0",
            "nh.args=" + _b64("\n".join([
                f"python {sys.executable}", f"package {package_root()}",
                f"modules {os.path.realpath(guest_kernel.modules)}",
                *(f"mount {tag} {path}" for tag, path in tags),
                *(f"link {name} {target}" for name, target in links)]) + "\n")])
        pairs = {name: socket.socketpair() for name in ("console", "qmp", "control")}
        theirs = {name: pair[1].fileno() for name, pair in pairs.items()}
        argv = qemu.command(binary, accel=self.accel, memory_mb=memory_mb(), cpus=min(os.cpu_count() or 1, 4),
                            vmlinux=guest_kernel.vmlinux, initrd=initrd, cmdline=cmdline,
                            exports=tags, fds=theirs)
        self.errors = tempfile.TemporaryFile()
        env = child_environment()
        progress.stage(i18n.N_("starting QEMU"), 0.32)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nethelpers.vm.supervisor", *argv], stdin=subprocess.PIPE,
            stdout=self.errors, stderr=self.errors, pass_fds=list(theirs.values()),
            start_new_session=True, env=env)
        for pair in pairs.values():
            pair[1].close()
        try:
            self.console = Console(pairs["console"][0])
            self.monitor = qemu.Monitor(pairs["qmp"][0])
            self.control = Control(pairs["control"][0])
            self.control.on_closed = self._closed
            self._wait_hello(progress)
            progress.stage(i18n.N_("starting the lab agent in the guest"), 0.8)
            self.guest = self.control.request(
                "configure", timeout=BOOT_TIMEOUT[self.accel],
                sys_path=[package_root()] + [p for p in sys.path if p],
                env=_guest_env(), hostname=socket.gethostname(), sysctls=_mirrored_sysctls())
        except (OSError, EOFError, ValueError) as exc:
            self.shutdown()
            raise LabUnavailable(f"the lab's VM did not start ({self._why()}: {exc}); its console "
                                 "said:\n" + self.console.tail()) from None
        except BaseException:
            self.shutdown()
            raise
        self.boot_seconds = time.monotonic() - started
        progress.stage(i18n.N_("ready"), 1.0)

    def _wait_hello(self, progress: BootProgress) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT[self.accel]
        started = time.monotonic()
        expected = 1.0 if self.accel == "kvm" else 3.5
        while not self.control.hello.wait(0.1):
            elapsed = time.monotonic() - started
            progress.stage(i18n.N_("booting Linux (KVM)") if self.accel == "kvm"
                           else i18n.N_("booting Linux (software emulation)"),
                           0.35 + 0.4 * min(1.0, elapsed / expected))
            if self.process.poll() is not None or time.monotonic() > deadline:
                break
        if self.control.eof or not self.control.hello.is_set():
            raise LabUnavailable(f"the lab's VM did not start ({self._why()}); its console said:\n"
                                 + self.console.tail())

    def _why(self) -> str:
        try:
            self.process.wait(1)
        except subprocess.TimeoutExpired:
            pass
        if self.process.poll() is None:
            return f"no answer within {BOOT_TIMEOUT[self.accel]:g} s"
        self.errors.seek(0)
        text = self.errors.read().decode(errors="replace").strip()
        return f"QEMU exited: {text[-800:] or 'no message'}"

    # --- labs -------------------------------------------------------------------------
    def open_sandbox(self) -> GuestSandbox:
        if len(self.sandboxes) >= qemu.MAX_PORTS - 2:  # port 0 is the bus's console, one is the control
            raise LabUnavailable(f"{len(self.sandboxes)} labs are open in this process's VM, as many as it takes: "
                           "close one first (lab.close()), or use `with Lab() as lab:` so that each closes")
        with self.lock:
            self.next_lab += 1
            number = self.next_lab
        ours, theirs = socket.socketpair()
        try:
            self.monitor.execute("getfd", fds=[theirs.fileno()], fdname=f"lab{number}")
            self.monitor.execute("chardev-add", id=f"lab{number}", backend={
                "type": "socket", "data": {"addr": {"type": "fd", "data": {"str": f"lab{number}"}},
                                           "server": False}})
            self.monitor.execute("device_add", driver="virtserialport", bus="ports.0",
                                 chardev=f"lab{number}", name=f"lab.{number}", id=f"port{number}")
        finally:
            theirs.close()
        sandbox = GuestSandbox(self, number, ours)
        self.sandboxes[number] = sandbox
        try:
            self.control.request("open", lab=number, port=f"lab.{number}", cwd=os.getcwd(),
                                 env=dict(_guest_env(), NETHELPERS_PATIENCE=str(self.patience),
                                          **{i18n.VARIABLE: i18n.language()}))
        except BaseException:
            self.sandboxes.pop(number, None)
            sandbox.release()
            raise
        return sandbox

    def _closed(self, number: int) -> None:
        sandbox = self.sandboxes.get(number)
        if sandbox is not None:
            sandbox.lost()

    def unplug(self, number: int) -> None:
        self.sandboxes.pop(number, None)
        if not self.alive:
            return
        for command, arguments in (("device_del", {"id": f"port{number}"}),
                                   ("chardev-remove", {"id": f"lab{number}"})):
            try:
                self.monitor.execute(command, **arguments)
            except (LabUnavailable, OSError, EOFError):
                pass

    def memory(self) -> dict:
        """The guest's /proc/meminfo (kB)."""
        return self.control.request("meminfo")["memory"]

    # --- lifetime ---------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self.control.eof

    def shutdown(self, timeout: float = 10) -> None:
        """Stop the VM: close the supervisor's lifeline, which kills QEMU."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_machine: Machine | None = None
_lock = threading.Lock()


def get(progress: BootProgress | None = None) -> Machine:
    """This process's VM, booted the first time."""
    global _machine
    with _lock:
        if _machine is not None and (_machine.owner != os.getpid() or not _machine.alive):
            _machine = None
        if _machine is None:
            _machine = Machine(progress or BootProgress(None))
        return _machine


def running() -> Machine | None:
    with _lock:
        if _machine is not None and _machine.owner == os.getpid() and _machine.alive:
            return _machine
        return None


@atexit.register
def shutdown() -> None:
    """Stop this process's VM (every lab in it ends)."""
    global _machine
    with _lock:
        machine, _machine = _machine, None
    if machine is not None and machine.owner == os.getpid():
        machine.shutdown()


def _after_fork_in_child() -> None:
    """A forked child lets go of its parent's VM (its lifeline above all), so that the VM still
    ends with its owner; the child boots its own if it opens a lab."""
    global _machine, _lock
    machine, _machine, _lock = _machine, None, threading.Lock()  # (the parent's lock may be held)
    if machine is not None:
        try:
            machine.process.stdin.close()
        except (OSError, ValueError):
            pass


os.register_at_fork(after_in_child=_after_fork_in_child)
