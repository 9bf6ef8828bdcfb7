"""Turning a fresh process into a lab sandbox.

The sandbox gets its own user namespace (only when not root), network, mount and
PID namespaces. Inside, ``/run`` is a private tmpfs holding ``/run/netns`` (the
named namespaces of the nodes) and ``/run/nethelpers`` (logs, scratch), and
``/etc`` becomes a copy-on-write overlay so that ``/etc/netns/<node>/`` can exist
without touching the machine's ``/etc``. Nothing here is visible outside the
sandbox, and all of it disappears with the sandbox's last process.
"""

from __future__ import annotations

import errno
import os

from ..errors import LabUnavailable
from . import syscalls as sc

NETNS_DIR = "/run/netns"
STATE_DIR = "/run/nethelpers"
OVERLAY_ETC = "/etc/netns"
FALLBACK_ETC = STATE_DIR + "/etc-netns"

NO_USERNS_HELP = (
    "Network namespaces are not available to this user: you are not root and the kernel refused "
    "to create a user namespace ({cause}). Fix: use the VM backend (`Lab(backend='vm')` or "
    "NETHELPERS_BACKEND=vm: needs QEMU, no root), run the course where you are root — the "
    "devcontainer (.devcontainer/) or your own Linux machine with `sudo make lab` — or enable "
    "unprivileged user namespaces (`sudo sysctl -w kernel.unprivileged_userns_clone=1`, "
    "`sudo sysctl -w user.max_user_namespaces=15000`, and on Ubuntu 23.10+ "
    "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; `python -m nethelpers "
    "doctor` gives the lasting fix). The notebooks still show their stored outputs."
)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_user_namespace() -> None:
    """Become root of a new user namespace, mapped to the caller's uid/gid."""
    uid, gid = os.getuid(), os.getgid()
    try:
        sc.unshare(sc.CLONE_NEWUSER)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    except OSError as exc:
        cause = {errno.EPERM: "operation not permitted: disabled by sysctl, seccomp or a container policy",
                 errno.ENOSPC: "user.max_user_namespaces is 0 or used up",
                 errno.EINVAL: "user namespaces are not compiled into this kernel"}.get(exc.errno, str(exc))
        raise LabUnavailable(NO_USERNS_HELP.format(cause=cause)) from None


def enter_sandbox_namespaces() -> dict:
    """unshare user (if needed), net, mount and PID namespaces and lay out /run and /etc.

    Returns facts about the sandbox (``rootless``, ``etc_netns``) for the caller.
    The PID namespace takes effect for children: the caller must fork next.
    """
    rootless = os.geteuid() != 0
    if rootless:
        enter_user_namespace()
    try:
        sc.unshare(sc.CLONE_NEWNET | sc.CLONE_NEWNS | sc.CLONE_NEWPID)
    except OSError as exc:
        raise LabUnavailable(_cannot_set_up(exc, rootless)) from None
    try:
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # "/" is no mount point: a chroot
            raise LabUnavailable(
                "The lab cannot run in a chroot: its root directory is not a mount point, so the "
                "sandbox cannot keep its mounts private. Run it on a machine, a VM or a container "
                "(e.g. the devcontainer), or make the chroot's directory a mount point first "
                "(mount --bind DIR DIR).") from None
        raise LabUnavailable(_cannot_set_up(exc, rootless)) from None
    try:
        sc.mount("tmpfs", "/run", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=755")
    except OSError as exc:
        raise LabUnavailable(_cannot_set_up(exc, rootless)) from None
    os.makedirs(NETNS_DIR)
    # as `ip netns add` does: /run/netns shared (inside the sandbox only), so a node made later is
    # also seen by processes already running in nodes (their mount namespaces are its slaves)
    sc.mount(NETNS_DIR, NETNS_DIR, None, sc.MS_BIND)
    sc.mount(None, NETNS_DIR, None, sc.MS_SHARED)
    os.makedirs(STATE_DIR + "/logs")
    return {"rootless": rootless, "etc_netns": _overlay_etc()}


def _cannot_set_up(exc: OSError, rootless: bool) -> str:
    if rootless:
        return NO_USERNS_HELP.format(
            cause=f"the namespace was created but is not usable: {exc.strerror} — typical of "
                  "AppArmor's restriction of unprivileged user namespaces")
    return (f"The sandbox could not be set up as root ({exc}). Is this a container without "
            "CAP_SYS_ADMIN, or with a seccomp filter? Start it with --cap-add=SYS_ADMIN "
            "--cap-add=NET_ADMIN (see .devcontainer/devcontainer.json), or use the VM backend "
            "(`Lab(backend='vm')` or NETHELPERS_BACKEND=vm: needs QEMU, no privileges).")


def _overlay_etc() -> str:
    """Make /etc writable copy-on-write so /etc/netns/<node>/ works like iproute2's."""
    upper, work = STATE_DIR + "/etc-upper", STATE_DIR + "/etc-work"
    os.makedirs(upper)
    os.makedirs(work)
    try:
        sc.mount("overlay", "/etc", "overlay", 0, f"lowerdir=/etc,upperdir={upper},workdir={work}")
        os.makedirs(OVERLAY_ETC, exist_ok=True)
        for name in ("resolv.conf", "hosts"):
            _make_bind_target(f"/etc/{name}")
        return OVERLAY_ETC
    except OSError:
        os.makedirs(FALLBACK_ETC)
        return FALLBACK_ETC


def _make_bind_target(path: str) -> None:
    """Replace a symlink (e.g. to systemd-resolved's file) by a regular file we can bind over."""
    if os.path.islink(path) or not os.path.exists(path):
        text = ""
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
        if os.path.lexists(path):
            os.unlink(path)
        _write(path, text)


def become_init() -> None:
    """Finish setup as PID 1 of the sandbox: our own /proc, where sysctls must be writable."""
    try:
        sc.mount("proc", "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    except OSError:
        pass  # e.g. inside a container with masked /proc: keep the old one
    check_sysctls_writable()


def check_sysctls_writable() -> None:
    """A node is configured through /proc/sys/net; a container's read-only /proc/sys forbids it."""
    probe = "/proc/sys/net/ipv4/ip_forward"
    try:
        with open(probe) as f:
            value = f.read()
        with open(probe, "w") as f:
            f.write(value)
    except OSError as exc:
        raise LabUnavailable(
            f"Network namespaces cannot be configured here: /proc/sys is read-only ({exc.strerror}), "
            "as in a container with the default /proc masking (Binder, Kubernetes pods). Fix: use "
            "the VM backend (`Lab(backend='vm')` or NETHELPERS_BACKEND=vm: needs QEMU, no root), or "
            "run the course on your own Linux machine or in the devcontainer.") from None
