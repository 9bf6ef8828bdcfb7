"""The guest's kernel: Debian 12's ``linux-image-*-amd64``, fetched once per user and cached.

A fixed, known kernel, whatever the machine runs: Debian's package, fetched over HTTPS from
Debian's archive as an ordinary user (Ubuntu keeps its own ``/boot/vmlinuz-*`` readable by
root only), checked against its SHA-256, and unpacked into the cache:

    ~/.cache/nethelpers/vm/<release>/
        vmlinux                    the kernel, decompressed: QEMU boots it directly (PVH entry),
                                   which saves the guest decompressing 8 MB under emulation
        modules/lib/modules/<release>/   the modules a lab uses (net, netfilter, 9p, virtio, …)
                                   with busybox depmod's modules.dep/alias, for the guest's modprobe
        kernel.json                what was fetched, from where, its digest

The pinned build is tried first; Debian's archive keeps only the newest build of a stable
release, so once it is superseded the newest 6.1 build of bookworm is taken from the
archive's package index (whose SHA-256 the download is checked against).
``python -m nethelpers vm fetch`` does this ahead of time; ``Lab()`` does it when needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import LabUnavailable

ARCHIVE = "https://deb.debian.org/"
PINNED = {  # Debian 12 (bookworm), as of 2026-12-03
    "release": "6.1.0-57-amd64",
    "version": "6.1.192-3",
    "path": "debian-security/pool/updates/main/l/linux-signed-amd64/"
            "linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb",
    "sha256": "14d219d01e1283261817d961dbb3895cb5b4288d0de10e0ba0632a0d993e15bf",
}
INDEXES = ("debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz",
           "debian/dists/bookworm/main/binary-amd64/Packages.xz")
PACKAGE = re.compile(r"linux-image-(6\.1\.0-\d+)-amd64")

# What of the package is kept (paths under lib/modules/<release>/kernel/): everything a lab can
# use, and what the guest boots with; not the hardware drivers (most of the package's 400 MB).
KEEP = ("net/", "crypto/", "lib/", "arch/x86/crypto/", "fs/9p/", "fs/netfs/", "fs/fscache/",
        "fs/overlayfs/", "drivers/virtio/", "drivers/char/virtio_console.ko",
        "drivers/char/hw_random/", "drivers/net/vxlan/", "drivers/net/ipvlan/",
        "drivers/net/bonding/", "drivers/net/team/", "drivers/net/wireguard/",
        *(f"drivers/net/{name}.ko" for name in (
            "veth", "macvlan", "macvtap", "tap", "dummy", "vrf", "geneve", "ifb", "tun",
            "nlmon", "bareudp", "virtio_net", "net_failover", "netdevsim/netdevsim")),
        "drivers/net/netdevsim/")
MODULE_FILES = ("modules.builtin", "modules.builtin.modinfo", "modules.order")

Progress = Callable[[str, float], None]  # (what is happening, fraction done 0..1)


def cache_root() -> str:
    """Where guest kernels live: $NETHELPERS_VM_DIR, else the user's cache directory."""
    explicit = os.environ.get("NETHELPERS_VM_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nethelpers", "vm")


SYSTEM_ROOTS = ("/usr/local/share/nethelpers/vm", "/usr/share/nethelpers/vm")


@dataclass(frozen=True)
class Kernel:
    """An unpacked guest kernel."""

    directory: str
    release: str
    version: str

    @property
    def vmlinux(self) -> str:
        return os.path.join(self.directory, "vmlinux")

    @property
    def modules(self) -> str:
        """The directory that the guest mounts as its /lib/modules."""
        return os.path.join(self.directory, "modules", "lib", "modules")

    def module_path(self, name: str) -> str:
        """The file of module ``name`` (``9pnet_virtio``), from modules.dep."""
        for line in self._dep_lines():
            path = line.split(":", 1)[0]
            if os.path.basename(path)[:-3].replace("-", "_") == name.replace("-", "_"):
                return os.path.join(self.modules, self.release, path)
        raise LabUnavailable(f"the guest kernel in {self.directory} has no module {name!r}: "
                             "fetch it again with `python -m nethelpers vm fetch --force`")

    def with_dependencies(self, names: list[str]) -> list[str]:
        """Module files to load, dependencies first, each once (as modprobe would)."""
        deps = {}
        for line in self._dep_lines():
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
        by_name = {os.path.basename(p)[:-3].replace("-", "_"): p for p in deps}
        order: list[str] = []

        def visit(path: str) -> None:
            # modules.dep lists a module's whole closure, nearest dependency first
            for dep in reversed(deps[path]):
                if dep not in order:
                    visit(dep)
            if path not in order:
                order.append(path)

        for name in names:
            visit(by_name[name.replace("-", "_")])
        return [os.path.join(self.modules, self.release, p) for p in order]

    def _dep_lines(self) -> list[str]:
        with open(os.path.join(self.modules, self.release, "modules.dep")) as f:
            return f.read().splitlines()


def find() -> Kernel | None:
    """The unpacked kernel to use, if one is cached (the user's cache first)."""
    for root in (cache_root(), *SYSTEM_ROOTS):
        try:
            with open(os.path.join(root, "current")) as f:
                release = f.read().strip()
            with open(os.path.join(root, release, "kernel.json")) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            continue
        return Kernel(os.path.join(root, release), meta["release"], meta["version"])
    return None


# --- fetching -------------------------------------------------------------------------
def fetch(progress: Progress | None = None, *, deb: str | None = None, force: bool = False,
          root: str | None = None) -> Kernel:
    """Make sure a guest kernel is unpacked in the cache; download it if needed.

    ``deb``: a ``linux-image-*-amd64`` .deb already on disk (no download).
    """
    progress = progress or (lambda what, done: None)
    if platform.machine() not in ("x86_64", "AMD64"):
        raise LabUnavailable(f"the VM backend runs amd64 guests under QEMU; this machine is "
                             f"{platform.machine()}, which it does not support yet")
    existing = find() if root is None else None
    if existing is not None and not force:
        return existing
    root = root or cache_root()
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as scratch:
        if deb is None:
            deb, meta = _download(scratch, progress)
        else:
            meta = {"release": None, "version": None, "source": os.path.abspath(deb),
                    "sha256": _sha256(deb)}
        progress("unpacking the kernel", 0.8)
        staging = os.path.join(scratch, "unpacked")
        release = _unpack(deb, staging)
        meta["release"] = meta["release"] or release
        meta["version"] = meta["version"] or release
        progress("indexing its modules", 0.9)
        _depmod(staging, release)
        with open(os.path.join(staging, "kernel.json"), "w") as f:
            json.dump(meta, f, indent=1)
        final = os.path.join(root, release)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(staging, final)
    with open(os.path.join(root, "current.tmp"), "w") as f:
        f.write(release + "\n")
    os.replace(os.path.join(root, "current.tmp"), os.path.join(root, "current"))
    progress("guest kernel ready", 1.0)
    return Kernel(final, release, meta["version"])


def _download(scratch: str, progress: Progress) -> tuple[str, dict]:
    target = os.path.join(scratch, "kernel.deb")
    candidates = [PINNED]
    try:
        _get(ARCHIVE + PINNED["path"], target, progress, head_only=True)
    except _NotThere:
        progress("the pinned kernel build is gone: looking up bookworm's newest", 0.0)
        candidates = [_newest_in_index()]
    except OSError as exc:
        raise _offline(exc) from None
    chosen = candidates[0]
    try:
        _get(ARCHIVE + chosen["path"], target, progress)
    except (OSError, _NotThere) as exc:
        raise _offline(exc) from None
    digest = _sha256(target)
    if digest != chosen["sha256"]:
        raise LabUnavailable(f"the guest kernel downloaded from {ARCHIVE + chosen['path']} has SHA-256 "
                             f"{digest}, not the expected {chosen['sha256']}: it was not used. Try again "
                             "later, or give a .deb you trust: python -m nethelpers vm fetch --deb FILE")
    return target, {"release": chosen["release"], "version": chosen["version"],
                    "source": ARCHIVE + chosen["path"], "sha256": digest}


class _NotThere(Exception):
    pass


def _offline(exc: Exception) -> LabUnavailable:
    return LabUnavailable(
        f"the VM backend needs a guest kernel, and it could not be downloaded from {ARCHIVE} ({exc}). "
        "Fix: connect this machine to the internet once and run `python -m nethelpers vm fetch`, or "
        "copy Debian 12's linux-image-6.1.0-*-amd64 .deb here and run "
        "`python -m nethelpers vm fetch --deb FILE`.")


def _get(url: str, target: str, progress: Progress, head_only: bool = False) -> None:
    request = urllib.request.Request(url, method="HEAD" if head_only else "GET",
                                     headers={"User-Agent": "nethelpers (a container networking course)"})
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise _NotThere(url) from None
        raise
    with response:
        if head_only:
            return
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        with open(target, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if total:
                    progress(f"downloading Debian's kernel ({done >> 20} of {total >> 20} MB)",
                             0.75 * done / total)


def _newest_in_index() -> dict:
    """The newest ``linux-image-6.1.0-N-amd64`` of bookworm, from Debian's package indexes."""
    best = None
    for index in INDEXES:
        request = urllib.request.Request(ARCHIVE + index, headers={"User-Agent": "nethelpers"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = lzma.decompress(response.read()).decode()
        for stanza in text.split("\n\n"):
            fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
            match = PACKAGE.fullmatch(fields.get("Package", ""))
            if not match:
                continue
            abi = int(match[1].rsplit("-", 1)[1])
            if best is None or abi > best[0]:
                best = (abi, {"release": match[1] + "-amd64", "version": fields["Version"],
                              "path": index.split("/", 1)[0] + "/" + fields["Filename"],
                              "sha256": fields["SHA256"]})
    if best is None:
        raise _NotThere("no linux-image-6.1.0-*-amd64 in bookworm's indexes")
    return best[1]


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- unpacking ---------------------------------------------------------------------------
def _ar_members(path: str) -> Iterator[tuple[str, io.BufferedReader, int]]:
    """(name, file positioned at the member, size) for each member of a Debian ar archive."""
    f = open(path, "rb")
    with f:
        if f.read(8) != b"!<arch>\n":
            raise LabUnavailable(f"{path} is not a .deb (no ar header)")
        while header := f.read(60):
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            start = f.tell()
            yield name, f, size
            f.seek(start + size + (size & 1))


def _unpack(deb: str, staging: str) -> str:
    """vmlinuz → vmlinux, and the kept modules; returns the kernel release."""
    release = None
    os.makedirs(staging)
    for name, f, size in _ar_members(deb):
        if not name.startswith("data.tar"):
            continue
        data = io.BytesIO(f.read(size))
        with tarfile.open(fileobj=data, mode="r:*") as tar:
            for member in tar:
                path = member.name.lstrip("./")
                match = re.fullmatch(r"boot/vmlinuz-(.+)", path)
                if match and member.isfile():
                    release = match[1]
                    _write_vmlinux(tar.extractfile(member).read(), os.path.join(staging, "vmlinux"))
                    continue
                match = re.fullmatch(r"lib/modules/([^/]+)/(.+)", path)
                if not match or not member.isfile():
                    continue
                inner = match[2]
                if inner in MODULE_FILES or (inner.startswith("kernel/")
                                             and inner[7:].startswith(KEEP)):
                    target = os.path.join(staging, "modules", path)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "wb") as out:
                        shutil.copyfileobj(tar.extractfile(member), out)
    if release is None:
        raise LabUnavailable(f"{deb} holds no boot/vmlinuz-*: is it a linux-image package?")
    return release


def _write_vmlinux(bzimage: bytes, target: str) -> None:
    """The ELF kernel inside a bzImage (its payload is xz-compressed on Debian)."""
    for magic, decompress in ((b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor().decompress(b)),):
        at = bzimage.find(magic)
        if at >= 0:
            elf = decompress(bzimage[at:])
            if elf[:4] == b"\x7fELF":
                with open(target, "wb") as out:
                    out.write(elf)
                return
    raise LabUnavailable("the kernel image is not compressed the way Debian's are (xz): "
                         "give a Debian 12 linux-image-*-amd64 package")


def _depmod(staging: str, release: str) -> None:
    """modules.dep and modules.alias (busybox's depmod), then check no dependency is missing."""
    busybox = find_busybox()
    if busybox is None:
        raise LabUnavailable("the VM backend needs busybox (static): sudo apt-get install busybox-static")
    base = os.path.join(staging, "modules")
    done = subprocess.run([busybox, "depmod", "-b", base, release], capture_output=True, text=True)
    if done.returncode != 0:
        raise LabUnavailable(f"busybox depmod failed: {done.stderr.strip()}")
    directory = os.path.join(base, "lib", "modules", release)
    with open(os.path.join(directory, "modules.dep")) as f:
        missing = sorted({dep for line in f for dep in line.split(":", 1)[1].split()
                          if not os.path.exists(os.path.join(directory, dep))})
    if missing:
        raise LabUnavailable(f"the guest kernel's modules need others that were not unpacked: "
                             f"{', '.join(missing[:5])} (a bug in nethelpers.vm.kernel.KEEP)")


def find_busybox() -> str | None:
    """A statically linked busybox (the guest's first program runs before any library is there)."""
    for path in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"):
        if path and os.access(path, os.X_OK) and is_static(path):
            return path
    return None


def is_static(path: str) -> bool:
    """An ELF executable with no program interpreter (PT_INTERP)."""
    import struct

    try:
        with open(path, "rb") as f:
            header = f.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit only
                return False
            phoff, = struct.unpack_from("<Q", header, 32)
            phentsize, phnum = struct.unpack_from("<HH", header, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))
