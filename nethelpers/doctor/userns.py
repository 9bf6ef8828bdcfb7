"""Can this user have the user namespace a rootless lab runs in? If not, why, and the exact fix.

Three sysctls decide it besides seccomp and container policies; the text builders here take
their values as a dict (read with :func:`read_sysctls` from ``/proc/sys``, or from any directory
laid out like it), so that what the doctor says about a machine that restricts them can be
shown from files:

    >>> cause({"kernel.apparmor_restrict_unprivileged_userns": 1})
    "Ubuntu's AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)"

Ubuntu 23.10+ (on by default from 24.04) lets a process create a user namespace but, unless an
AppArmor profile with the ``userns,`` rule is attached to its executable, confines it to the
``unprivileged_userns`` profile, which has no capabilities inside: the lab cannot be set up.
The profile syntax is AppArmor 4.0's, as Ubuntu ships such profiles (apparmor commit 89a9f767,
``profiles/apparmor.d/devhelp``; https://ubuntu.com/blog/ubuntu-23-10-restricted-unprivileged-user-namespaces).
"""

from __future__ import annotations

import os
import subprocess
import sys

from .model import VM_BACKEND, Check, check

APPARMOR = "kernel.apparmor_restrict_unprivileged_userns"
# sysctl: (the value that forbids, a value that allows)
SYSCTLS = {"user.max_user_namespaces": (0, 15000), "kernel.unprivileged_userns_clone": (0, 1),
           APPARMOR: (1, 0)}
SYSCTL_FILE = "/etc/sysctl.d/60-nethelpers-userns.conf"
PROFILE_NAME = "nethelpers-python"

# Run by a fresh interpreter (single-threaded, as the sandbox is): the steps a rootless sandbox
# takes before its first mount, each reported by name on failure.
_PROBE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def refused(step, number):
    print(step, number, os.strerror(number), sep="\t")
    sys.exit(1)
uid, gid = os.getuid(), os.getgid()
if libc.unshare(0x10000000) != 0:
    refused("creating it (unshare CLONE_NEWUSER)", ctypes.get_errno())
for name, text in (("setgroups", "deny"), ("uid_map", "0 %d 1" % uid), ("gid_map", "0 %d 1" % gid)):
    try:
        with open("/proc/self/" + name, "w") as f:
            f.write(text)
    except OSError as exc:
        refused("writing /proc/self/" + name + " in it", exc.errno)
if libc.unshare(0x40000000 | 0x00020000) != 0:
    refused("creating a network and a mount namespace in it", ctypes.get_errno())
"""


def read_sysctls(keys=tuple(SYSCTLS), root: str = "/proc/sys") -> dict[str, int | None]:
    """{key: its integer value, or None when the file is not there} under ``root``."""
    values = {}
    for key in keys:
        try:
            with open(os.path.join(root, *key.split("."))) as f:
                values[key] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            values[key] = None
    return values


def blockers(values: dict) -> list[str]:
    """The sysctls whose value forbids unprivileged user namespaces, in SYSCTLS' order."""
    return [key for key, (bad, _) in SYSCTLS.items() if values.get(key) == bad]


def shown(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items() if v is not None) or "no sysctls"


def cause(values: dict, probe_error: str = "") -> str:
    """What keeps this user from a usable user namespace, by name."""
    if values.get(APPARMOR) == 1:
        why = f"Ubuntu's AppArmor restricts unprivileged user namespaces ({APPARMOR}=1)"
    elif values.get("kernel.unprivileged_userns_clone") == 0:
        why = "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)"
    elif values.get("user.max_user_namespaces") == 0:
        why = "user namespaces are disabled (user.max_user_namespaces=0)"
    else:
        return probe_error or "the kernel refuses them to this user (a seccomp filter or a container's policy)"
    return f"{why}: {probe_error}" if probe_error else why


def apparmor_profile(python: str) -> str:
    """The profile that lets ``python`` create user namespaces: attached to its real path."""
    real = os.path.realpath(python)
    attach = f'"{real}"' if any(c.isspace() for c in real) else real
    return "\n".join(["abi <abi/4.0>,", "include <tunables/global>",
                      f"profile {PROFILE_NAME} {attach} flags=(unconfined) {{", "  userns,", "}"])


def fix(values: dict, python: str = sys.executable) -> str:
    """The exact commands, one-off and persistent, then the narrower profile, then the VM backend."""
    keys = blockers(values)
    lines = []
    if keys:
        lines += ["On a machine you administer, allow them now:"]
        lines += [f"    sudo sysctl -w {key}={SYSCTLS[key][1]}" for key in keys]
        settings = [f"{key} = {SYSCTLS[key][1]}" for key in keys]
        quoted = " ".join(f"'{s}'" for s in settings)
        lines += ["and for good (a file in /etc/sysctl.d, read at every boot):",
                  f"    echo {quoted} | sudo tee {SYSCTL_FILE}" if len(keys) == 1 else
                  f"    printf '%s\\n' {quoted} | sudo tee {SYSCTL_FILE}"]
    if values.get(APPARMOR) == 1:
        real = os.path.realpath(python)
        lines += [f"or, narrower, an AppArmor profile for this course's Python only (AppArmor attaches "
                  f"profiles to the real path of the executable: {real}, which {python} links to; "
                  f"every script it runs may then create user namespaces): "
                  f"write /etc/apparmor.d/{PROFILE_NAME} (sudoedit) with"]
        lines += ["    " + line for line in apparmor_profile(python).splitlines()]
        lines += ["and load it:", f"    sudo apparmor_parser -r /etc/apparmor.d/{PROFILE_NAME}"]
    if not keys:
        lines += ["Run the course where you are root (its devcontainer, or `sudo` on your own machine)."]
    lines += [f"Or just use {VM_BACKEND}."]
    return "\n".join(lines)


def probe(python: str = sys.executable, timeout: float = 10) -> tuple[bool, str]:
    """(True, "") when this user gets a user namespace and is root in it; else (False, what failed).

    A throwaway process does what a rootless sandbox does first: unshare a user namespace, map
    itself to root, then unshare a network and a mount namespace inside.
    """
    try:
        done = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"the probe could not run: {exc}"
    if done.returncode == 0:
        return True, ""
    step, _, rest = done.stdout.strip().partition("\t")
    number, _, text = rest.partition("\t")
    if not number.isdigit():
        return False, f"the probe failed: {(done.stderr or done.stdout).strip()[-200:]}"
    stage = "create" if step.startswith("creating it") else "map" if step.startswith("writing") else "use"
    return False, f"{step} failed: {text} (errno {number}){_WHY.get((stage, int(number)), '')}"


# what a failed stage tells, by errno
_WHY = {("create", 1): " — a seccomp filter or a container's policy forbids it",
        ("create", 28): " — user.max_user_namespaces is 0 or used up",
        ("create", 22): " — this kernel has no user namespaces",
        ("map", 1): " — a security policy (e.g. AppArmor) forbids setting it up",
        ("map", 13): " — a security policy (e.g. AppArmor) forbids setting it up",
        ("use", 1): " — it gives no privileges inside (a security policy, e.g. AppArmor's unprivileged_userns "
                    "profile)"}


def userns_check(rootless: bool | None, values: dict, probed: tuple[bool, str] | None,
                 python: str = sys.executable, root: bool | None = None) -> Check:
    """The "user namespaces" line: ``rootless`` is True when a rootless lab started, ``probed``
    what :func:`probe` found (or None); ``root`` defaults to whether this process is root, who
    needs no user namespace."""
    keys = blockers(values)
    if root if root is not None else os.geteuid() == 0:
        # a lab started by root gives up root in a user namespace (sandbox/setup.py: give_up_root)
        if (probed is not None and not probed[0]) or "user.max_user_namespaces" in keys:
            why = probed[1] if probed is not None and not probed[0] else shown(values)
            return check("user namespaces", False, f"a lab started by root gives up root in one, and none "
                         f"can be created here: {why}", "sudo sysctl -w user.max_user_namespaces=15000 "
                         f"(in a container: --security-opt seccomp=unconfined), or {VM_BACKEND}",
                         required=True)
        others = "may not" if keys else "may"
        return check("user namespaces", True, "a lab started by root moves into one, where its root is "
                     f"nobody on this machine; other users {others} create one ({shown(values)})",
                     "for other users: " + "; ".join(
                         f"sudo sysctl -w {key}={SYSCTLS[key][1]}" for key in keys)
                     + " (the doctor run as such a user gives the lasting fixes)" if keys else "", required=True)
    if rootless is True or (probed is not None and probed[0]):
        through = (" (Ubuntu's AppArmor restriction is on, but a profile lets this Python through)"
                   if values.get(APPARMOR) == 1 else "")
        return check("user namespaces", True, f"this user can create one and is root in it{through} "
                     f"({shown(values)})", required=True)
    return check("user namespaces", False, f"this user cannot use one: {cause(values, probed[1] if probed else '')}",
                 fix(values, python), required=True)
