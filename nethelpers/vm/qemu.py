"""QEMU for the guest: finding it, its command line, KVM or not, and its monitor (QMP).

The guest is a ``q35`` machine booted straight into the kernel (its PVH entry, no bootloader)
with virtio PCI devices: one virtio-9p export per shared directory, and a virtio-serial bus
whose ports carry the control channel and each lab's requests. (``microvm`` boots a little
faster, but it has no HPET: under emulation its kernel sometimes fails to calibrate the TSC
and hangs, one boot in three here.) Every channel is a socket passed to
QEMU as an open file descriptor, so nothing of it exists in the file system.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading

from ..errors import LabUnavailable

BINARY = "qemu-system-x86_64"
# Serial ports on the guest's bus: the control channel and one per open lab. The guest's driver
# sets up every possible port at boot: 511 took 145 ms there under emulation, 64 about 35 ms.
MAX_PORTS = 64
PROBE_SECONDS = 6.0   # a KVM boot takes about 1 s; nested virtualisation may hang forever


def find_binary() -> str | None:
    """QEMU for x86-64 guests: $NETHELPERS_QEMU, else on PATH or where distributions put it."""
    explicit = os.environ.get("NETHELPERS_QEMU")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which(BINARY) or next(
        (p for p in (f"/usr/bin/{BINARY}", f"/usr/libexec/{BINARY}", "/usr/libexec/qemu-kvm")
         if os.access(p, os.X_OK)), None)


def version(binary: str) -> tuple[int, ...]:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    words = done.stdout.split()
    text = words[words.index("version") + 1] if "version" in words else "0"
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def command(binary: str, *, accel: str, memory_mb: int, cpus: int, vmlinux: str, initrd: str,
            cmdline: str, exports: list[tuple[str, str]], fds: dict[str, int]) -> list[str]:
    """QEMU's argv. ``exports``: (mount tag, host directory); ``fds``: console, qmp, control."""
    cpu = "host" if accel == "kvm" else "max"
    # TCG's translation cache is 1 GiB by default: QEMU's memory reached 1.5 GB in notebook 01;
    # with 128 MB it stays near 0.6 GB, no slower (measured: nethelpers/vm/bench.py --notebook)
    engine = "kvm" if accel == "kvm" else "tcg,tb-size=128"
    args = [binary, "-name", "nethelpers-lab", "-machine", "q35", "-accel", engine, *firmware(),
            "-cpu", cpu, "-smp", str(cpus), "-m", f"{memory_mb}M",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", vmlinux, "-initrd", initrd, "-append", cmdline,
            "-chardev", f"socket,id=console,fd={fds['console']}", "-serial", "chardev:console",
            "-chardev", f"socket,id=qmp,fd={fds['qmp']}", "-mon", "chardev=qmp,mode=control",
            "-device", f"virtio-serial-pci,id=ports,max_ports={MAX_PORTS}",
            "-chardev", f"socket,id=control,fd={fds['control']}",
            "-device", "virtserialport,bus=ports.0,chardev=control,name=nethelpers.ctl",
            "-device", "virtio-rng-pci"]
    for tag, path in exports:
        args += ["-fsdev", f"local,id={tag},path={path},security_model=none,readonly=on,multidevs=remap",
                 "-device", f"virtio-9p-pci,fsdev={tag},mount_tag={tag}"]
    return args


QBOOT = ("/usr/share/qemu/qboot.rom", "/usr/share/qboot/bios.bin")


def firmware() -> list[str]:
    """qboot where QEMU ships it: a firmware that only loads the kernel (SeaBIOS takes longer)."""
    found = next((path for path in QBOOT if os.path.exists(path)), None)
    return ["-bios", found] if found else []


class Monitor:
    """A QMP client on a connected socket: one command at a time, events skipped."""

    def __init__(self, sock: socket.socket, timeout: float = 30) -> None:
        self.sock = sock
        self.sock.settimeout(timeout)
        self.file = sock.makefile("r", encoding="utf-8")
        self.lock = threading.Lock()
        greeting = self._read()
        if "QMP" not in greeting:
            raise LabUnavailable(f"QEMU's monitor did not greet as QMP does: {greeting}")
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("QEMU's monitor closed")
            message = json.loads(line)
            if "event" not in message:
                return message

    def execute(self, name: str, /, fds: list[int] | None = None, **arguments) -> dict:
        message = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        data = (json.dumps(message) + "\n").encode()
        with self.lock:
            if fds:
                socket.send_fds(self.sock, [data], fds)
            else:
                self.sock.sendall(data)
            reply = self._read()
        if "error" in reply:
            raise LabUnavailable(f"QEMU refused {name}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return", {})
