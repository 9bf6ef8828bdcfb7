"""KVM or software emulation (TCG): KVM only when /dev/kvm opens *and* a bounded test boot works.

Nested virtualisation can offer a /dev/kvm on which a guest hangs or QEMU aborts, so a real boot
decides, bounded by :data:`nethelpers.vm.qemu.PROBE_SECONDS`. The verdict is remembered until
the machine reboots (keyed by its boot id and the QEMU binary). ``NETHELPERS_VM_ACCEL=kvm|tcg``
forces one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from ..errors import InvalidValue
from ..i18n import N_
from . import qemu
from .kernel import cache_root

PROBE_OK = "nethelpers-probe-ok"


def choose(binary: str, vmlinux: str, initrd: str, progress=None) -> str:
    forced = os.environ.get("NETHELPERS_VM_ACCEL")
    if forced:
        if forced not in ("kvm", "tcg"):
            raise InvalidValue(f"NETHELPERS_VM_ACCEL={forced!r}: use kvm or tcg (or unset it)")
        return forced
    if not kvm_opens():
        return "tcg"
    key = _key(binary)
    cached = _load().get(key)
    if cached in ("kvm", "tcg"):
        return cached
    if progress is not None:
        progress.stage(N_("trying KVM (a test boot, at most a few seconds)"), 0.3)
    verdict = "kvm" if probe(binary, vmlinux, initrd) else "tcg"
    _save(key, verdict)
    return verdict


def kvm_opens() -> bool:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


def probe(binary: str, vmlinux: str, initrd: str, seconds: float = qemu.PROBE_SECONDS) -> bool:
    """Does a KVM guest reach its init within ``seconds``?"""
    argv = [binary, "-machine", "q35", "-accel", "kvm", *qemu.firmware(), "-cpu", "host", "-m", "128M", "-nodefaults",
            "-no-user-config", "-display", "none", "-no-reboot", "-kernel", vmlinux, "-initrd", initrd,
            "-append", "console=ttyS0 quiet panic=-1 nh.probe=1", "-serial", "stdio"]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False
    except OSError:
        return False
    return PROBE_OK in done.stdout and time.monotonic() - started < seconds


def _key(binary: str) -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = "unknown"
    stat = os.stat(binary)
    return f"{boot}:{os.path.realpath(binary)}:{stat.st_size}:{int(stat.st_mtime)}"


def _path() -> str:
    return os.path.join(cache_root(), "accel.json")


def _load() -> dict:
    try:
        with open(_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _save(key: str, verdict: str) -> None:
    try:
        os.makedirs(os.path.dirname(_path()), exist_ok=True)
        with open(_path() + ".tmp", "w") as f:
            json.dump({key: verdict}, f)
        os.replace(_path() + ".tmp", _path())
    except OSError:
        pass
