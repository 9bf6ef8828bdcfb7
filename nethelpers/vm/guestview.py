"""What the guest sees of this machine: read-only 9p exports of the system's directories
(``/usr``, ``/etc``, ``/opt`` and the top-level ``/lib*``, ``/bin``, ``/sbin``), the Python
environment and the nethelpers package the owner runs, the current directory and the guest
kernel's modules; each under a tmpfs overlay, so writes stay in the guest's memory. Nothing
else of the machine (no home directory, no /proc, /sys, /dev, /run or /tmp of the machine).

The guest gets the owner's environment (with sbin on PATH), this machine's values of the sysctls
that change what tools print, and the package byte-compiled here (its copy there is read-only).
"""

from __future__ import annotations

import os
import sys

from ..backends import child_environment

SYSTEM_DIRECTORIES = ("usr", "etc", "opt", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


def package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def exports(kernel_dir: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(directories to share, top-level symlinks to recreate) for the guest's root."""
    links, wanted = [], []
    for name in sorted(os.listdir("/")):
        path = "/" + name
        if os.path.islink(path):
            links.append((name, os.readlink(path)))
        elif name in SYSTEM_DIRECTORIES and os.path.isdir(path):
            wanted.append(path)
    system = list(wanted)
    home = os.path.realpath(os.path.expanduser("~"))
    cwd = os.path.realpath(os.getcwd())
    # the current directory, unless it is the home directory or above it (~/.ssh and the rest);
    # what the lab needs is shared wherever it is (on Binder the course *is* the home directory)
    needed = [cwd] if cwd != home and not home.startswith(cwd.rstrip("/") + "/") else []
    for path in (package_root(), sys.prefix, sys.base_prefix, sys.exec_prefix,
                 os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
                 *sys.path, *needed, kernel_dir):
        if path and os.path.isdir(path):
            wanted.append(os.path.realpath(path))
    chosen: list[str] = []
    for path in sorted(set(wanted), key=len):
        if path == "/" or any(path == top or path.startswith(top.rstrip("/") + "/") for top in chosen):
            continue
        chosen.append(path)
    # a path inside /usr etc. is served by that export; the rest get their own
    return [p for p in chosen if p in system] + [p for p in chosen if p not in system], links


def _guest_env() -> dict:
    """The owner's environment for processes in the guest, with a PATH that has sbin."""
    env = child_environment()
    env["PATH"] = ":".join(dict.fromkeys(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
                                          "/sbin", "/bin", *env.get("PATH", "").split(":")]))
    env.pop("JPY_PARENT_PID", None)
    return env


MIRRORED_SYSCTLS = ("kernel.pid_max",)


def _mirrored_sysctls() -> dict:
    """This machine's values of the guest sysctls that change what tools print."""
    found = {}
    for key in MIRRORED_SYSCTLS:
        try:
            with open("/proc/sys/" + key.replace(".", "/")) as f:
                found[key] = f.read().strip()
        except OSError:
            pass
    return found


def _compile_package() -> None:
    """Byte-compile nethelpers here, where it is fast: the guest's copy is read-only."""
    import compileall

    compileall.compile_dir(os.path.join(package_root(), "nethelpers"), quiet=2, workers=1)
