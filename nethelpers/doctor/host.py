"""What the doctor reads on the machine itself, never changing it: kernel modules, tools, CNI plugins.

Outside the lab the doctor only reads /proc/sys and /lib/modules and runs ``--version``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess

from ..cni.plugindirs import PLUGIN_DIRS
from ..sandbox.processes import PACKAGES, PATH
from .model import CNI_PLUGINS, OPTIONAL, Check, check

CNI_DIRS = PLUGIN_DIRS   # Debian/Ubuntu's, Fedora's, upstream's
# Fedora's name where it differs from Debian's (packages.fedoraproject.org), for the install lines
FEDORA = {"iproute2": "iproute", "iptables": "iptables-nft", "iputils-ping": "iputils",
          "conntrack": "conntrack-tools", "procps": "procps-ng", "bind9-dnsutils": "bind-utils",
          "etcd-server": "etcd"}


def module_exists(module: str) -> bool:
    """Does this kernel ship ``module`` as a loadable module (in modules.dep)?"""
    try:
        with open(f"/lib/modules/{platform.release()}/modules.dep") as f:
            return re.search(rf"/{re.escape(module)}\.ko(\.\w+)?:", f.read()) is not None
    except OSError:
        return False


def kernel_fix(module: str, name: str, rootless: bool) -> str:
    if module_exists(module):
        why = " (a rootless lab cannot load kernel modules)" if rootless else ""
        return f"sudo modprobe {module}{why}" + ("; the course does not need it" * (name in OPTIONAL))
    if name in OPTIONAL:
        return f"this kernel lacks it (no {module} module); the course does not need it"
    return f"this kernel lacks it (no {module} module): use a stock Debian or Ubuntu kernel"


def install_line(package: str) -> str:
    """``sudo apt-get install PACKAGE``, or Fedora's dnf line where there is dnf and no apt-get."""
    if shutil.which("apt-get") is None and shutil.which("dnf") is not None:
        return "sudo dnf install " + " ".join(FEDORA.get(word, word) for word in package.split())
    return f"sudo apt-get install {package}"


def install(program: str) -> str:
    return install_line(PACKAGES.get(program, program))


def version(program: str) -> str | None:
    """First line of ``program --version``; None when it is not installed."""
    path = shutil.which(program, path=PATH)
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return ((done.stdout or done.stderr).strip().splitlines() or [""])[0]


def iptables() -> Check:
    text = version("iptables")
    if text is None:
        return check("iptables", False, "iptables is not installed", install("iptables"))
    backend = "nf_tables" if "nf_tables" in text else "legacy" if "legacy" in text else "unknown"
    real = os.path.realpath(shutil.which("iptables", path=PATH))
    note = "; lab.trace() finds legacy rules by their packet counters (no order)" if backend == "legacy" else ""
    return check("iptables", True, f"{text.split(' (')[0]}, {backend} backend ({real}){note}")


def cni(dirs: tuple[str, ...] = CNI_DIRS) -> Check:
    found = {p: d for p in CNI_PLUGINS for d in reversed(dirs) if os.access(os.path.join(d, p), os.X_OK)}
    missing = [p for p in CNI_PLUGINS if p not in found]
    where = ", ".join(sorted(set(found.values()))) or " or ".join(dirs)
    detail = f"{len(found)}/{len(CNI_PLUGINS)} reference plugins in {where}"
    detail += "; missing: " + ", ".join(missing) if missing else ""
    return check("cni plugins", not missing, detail, install_line("containernetworking-plugins"))


def etcd() -> Check:
    found = version("etcd")
    if found is None:
        return check("etcd", False, "not installed: chapter 07's Docker 1.11 cluster store is the course's built-in "
                     "etcd v2 store instead (the same output)", install_line("etcd-server") + " (optional)")
    return check("etcd", True, f"{found}: chapter 07's Docker 1.11 cluster store runs real etcd")
