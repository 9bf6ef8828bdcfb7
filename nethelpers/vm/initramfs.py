"""The guest's initramfs: busybox, the modules it boots with, and ``guest_init.sh`` as /init.

Built once per kernel, init script and busybox (the file name carries their digest), in the
kernel's cache directory. The format is the kernel's "newc" cpio, written here directly.
"""

from __future__ import annotations

import hashlib
import os
import stat

from ..errors import LabUnavailable
from .kernel import Kernel, find_busybox

# What the guest needs before the machine's / is mounted: virtio over PCI, its serial ports, 9p
# over virtio, overlayfs, and the entropy source; and the cores of iptables-legacy, whose tools
# run modprobe themselves, which a lab's node may not (its root is not the guest's: see
# sandbox/setup.py). The rest the kernel loads on demand (busybox modprobe), or the launcher
# does for a lab (sandbox/launcher.py: br_netfilter).
BOOT_MODULES = ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "overlay", "virtio_rng",
                "ip_tables", "ip6_tables"]
INIT = os.path.join(os.path.dirname(__file__), "guest_init.sh")


def build(kernel: Kernel) -> str:
    """The initramfs for ``kernel`` (built if not there yet); its path."""
    busybox = find_busybox()
    if busybox is None:
        raise LabUnavailable("the VM backend needs a statically linked busybox for the guest's first "
                             "program: sudo apt-get install busybox-static (Fedora: sudo dnf install busybox)")
    modules = kernel.with_dependencies(BOOT_MODULES)
    with open(INIT, "rb") as f:
        init = f.read()
    with open(busybox, "rb") as f:
        program = f.read()
    digest = hashlib.sha256(init + program + "\n".join(modules).encode()).hexdigest()[:16]
    target = os.path.join(kernel.directory, f"initrd-{digest}.cpio")
    if os.path.exists(target):
        return target
    files = [("init", 0o755, init), ("bin/busybox", 0o755, program)]
    names = []
    for i, path in enumerate(modules):
        name = f"m/{i:02d}-{os.path.basename(path)}"
        with open(path, "rb") as f:
            files.append((name, 0o644, f.read()))
        names.append(name)
    files.append(("boot-modules", 0o644, ("\n".join(names) + "\n").encode()))
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as out:
        out.write(cpio(files, directories=["bin", "m", "proc", "sys", "dev"]))
    os.replace(tmp, target)
    for old in os.listdir(kernel.directory):  # earlier builds' initramfs
        if old.startswith("initrd-") and old != os.path.basename(target):
            os.unlink(os.path.join(kernel.directory, old))
    return target


def cpio(files: list[tuple[str, int, bytes]], directories: list[str]) -> bytes:
    """A "newc" cpio archive of ``directories`` and (path, mode, content) ``files``."""
    out = bytearray()

    def entry(number: int, name: str, mode: int, data: bytes) -> None:
        encoded = name.encode() + b"\0"
        fields = (number, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        out.extend(b"070701" + b"".join(b"%08X" % value for value in fields) + encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    number = 1
    for directory in directories:
        entry(number, directory, stat.S_IFDIR | 0o755, b"")
        number += 1
    for name, mode, data in files:
        entry(number, name, stat.S_IFREG | mode, data)
        number += 1
    entry(0, "TRAILER!!!", 0, b"")
    return bytes(out)
