"""What the doctor reports about the VM backend: what it needs, what it has, and a real boot.

The boot is tried (a VM started, a lab with two nodes, a veth and a ping) when ``Lab()`` would
use the VM here — namespaces refused, or ``NETHELPERS_BACKEND=vm`` — or when asked; otherwise
that line says it was not tried, never that it works.
"""

from __future__ import annotations

import os
import time

from ..errors import LabError
from . import accel, kernel, qemu


def _line(name: str, ok: bool, detail: str, fix: str = "", *, required: bool = False,
          optional: bool = False, skipped: bool = False) -> dict:
    return {"name": name, "ok": ok, "detail": detail, "fix": "" if ok else fix, "required": required,
            "optional": optional, "skipped": skipped}


def checks(boot: bool | None = None) -> list[dict]:
    """One dict per line (name, ok, detail, fix, required, optional, skipped), in order.

    ``boot``: try a real VM lab (True), never (False), or when Lab() would use the VM (None).
    """
    lines = []
    binary = qemu.find_binary()
    if binary is None:
        lines.append(_line("qemu", False, f"{qemu.BINARY} is not installed", "sudo apt-get install "
                           "qemu-system-x86 (Fedora: sudo dnf install qemu-system-x86-core)", required=True))
    else:
        found = ".".join(map(str, qemu.version(binary)))
        lines.append(_line("qemu", qemu.version(binary) >= (6, 0), f"QEMU {found} ({binary})",
                           "QEMU 6.0 or newer is needed", required=True))
    busybox = kernel.find_busybox()
    lines.append(_line("busybox", busybox is not None,
                       f"a static busybox for the guest's first program ({busybox})" if busybox
                       else "no statically linked busybox", "sudo apt-get install busybox-static "
                       "(Fedora: sudo dnf install busybox)", required=True))
    guest = kernel.find()
    if guest is not None:
        lines.append(_line("guest kernel", True, f"Debian's {guest.release} in {guest.directory}"))
    else:
        lines.append(_line("guest kernel", False, "not fetched yet: the first VM lab downloads it "
                           f"(about 70 MB from {kernel.ARCHIVE}) into {kernel.cache_root()}",
                           "python -m nethelpers vm fetch (once, ahead of time)"))
    lines.append(_acceleration(binary, guest, busybox))
    lines.append(_boot(boot, ready=binary is not None and busybox is not None))
    return lines


def _acceleration(binary, guest, busybox) -> dict:
    forced = os.environ.get("NETHELPERS_VM_ACCEL")
    if forced:
        return _line("kvm", forced == "kvm", f"NETHELPERS_VM_ACCEL={forced} forces it", optional=True)
    if not accel.kvm_opens():
        why = ("there is no /dev/kvm" if not os.path.exists("/dev/kvm")
               else "/dev/kvm does not open for this user")
        return _line("kvm", False, f"{why}: the VM emulates its CPU (slower, but it works)",
                     "sudo usermod -aG kvm $USER (then log in again), where the machine has KVM",
                     optional=True)
    if binary is None or guest is None or busybox is None:
        return _line("kvm", False, "/dev/kvm opens; not tried yet (needs QEMU and the guest kernel)",
                     "", optional=True, skipped=True)
    from .initramfs import build

    verdict = accel.choose(binary, guest.vmlinux, build(guest))
    return _line("kvm", verdict == "kvm", "a KVM test boot worked" if verdict == "kvm" else
                 "/dev/kvm opens, but a KVM test boot failed (nested virtualisation?): the VM "
                 "emulates its CPU", "", optional=True)


def _vm_wanted() -> bool:
    from .. import backends

    if backends.requested(None) is not None:
        return backends.requested(None) == "vm"
    try:
        sandbox, _ = backends._namespaces(10)
    except LabError:
        return True
    sandbox.conn.send([1, "shutdown", [], {}])
    sandbox.wait(5)
    return False


def _boot(boot: bool | None, ready: bool) -> dict:
    if boot is None:
        boot = _vm_wanted()
    if not boot:
        return _line("vm lab", False, "not tried: Lab() uses namespaces here (NETHELPERS_BACKEND=vm "
                     "python -m nethelpers doctor tries the VM)", skipped=True)
    if not ready:
        return _line("vm lab", False, "not tried: QEMU or busybox is missing", "install them first",
                     skipped=True)
    from ..lab import Lab

    started = time.monotonic()
    try:
        with Lab(backend="vm") as lab:
            a, b = lab.add_nodes(["a", "b"])
            lab.add_veth("a:v0", "b:v0")
            a.add_address("v0", "10.0.0.1/24")
            b.add_address("v0", "10.0.0.2/24")
            ping = a.run("ping -c1 -W5 10.0.0.2", timeout=20)
            info = lab.info
    except LabError as exc:
        return _line("vm lab", False, f"the VM did not run a lab: {exc}",
                     "see the lines above; NETHELPERS_VM_DEBUG=1 shows the guest's boot", required=True)
    seconds = time.monotonic() - started
    how = "KVM" if info.get("accel") == "kvm" else "software emulation"
    return _line("vm lab", ping.ok, f"a VM ({how}, Linux {info.get('kernel')}) ran a lab: two nodes, a "
                 f"veth and a ping, {seconds:.1f} s in all", "the ping failed: " + ping.stderr.strip()[-200:],
                 required=True)
