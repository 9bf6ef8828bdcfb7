"""Turning a fresh process into a lab sandbox.

The sandbox gets its own user, network, mount, PID, UTS and IPC namespaces. Started by
root, it gives up root for a user namespace whose root is nobody on the machine (see
:func:`give_up_root`); started by a user, root of its user namespace is that user. Inside, ``/run`` is a private tmpfs holding ``/run/netns`` (the
named namespaces of the nodes) and ``/run/nethelpers`` (logs, scratch), and
``/etc`` becomes a copy-on-write overlay so that ``/etc/netns/<node>/`` can exist
without touching the machine's ``/etc``. Nothing here is visible outside the
sandbox, and all of it disappears with the sandbox's last process.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

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
    """The launcher's part: the namespaces, before it forks PID 1 of the sandbox.

    Rootless, all of them at once, the user namespace first (it makes us root of the rest).
    As root, mount, PID, UTS and IPC namespaces only: PID 1 mounts the lab's /proc and then
    gives up root for a user namespace of its own (:func:`give_up_root`), where the rest is made.
    Returns facts about the sandbox (``rootless``, ``etc_netns``) for the caller.
    The PID namespace takes effect for children: the caller must fork next.
    """
    rootless = os.geteuid() != 0
    if rootless:
        enter_user_namespace()
    flags = sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC
    try:
        sc.unshare(flags | (sc.CLONE_NEWNET if rootless else 0))
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
    if not rootless:
        try:
            return {"rootless": False, "lab_uid": reveal(needed_paths(), LAB_UID)}
        except OSError as exc:
            raise LabUnavailable(
                f"A lab started by root runs as nobody, and could not make this Python and the "
                f"nethelpers package readable for it ({exc}). Install them where any user may read "
                f"them (e.g. a virtualenv outside /root), or use the VM backend (NETHELPERS_BACKEND=vm)."
            ) from None
    return {"rootless": True, "lab_uid": os.getuid(), "etc_netns": _lay_out_run(rootless)}


def _lay_out_run(rootless: bool) -> str:
    """The lab's own /run (a tmpfs of at most RUN_SIZE), /run/netns and /etc/netns; returns
    where the nodes' /etc files go."""
    try:
        sc.mount("tmpfs", "/run", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, f"mode=755,size={RUN_SIZE}")
    except OSError as exc:
        raise LabUnavailable(_cannot_set_up(exc, rootless)) from None
    os.makedirs(NETNS_DIR)
    # as `ip netns add` does: /run/netns shared (inside the sandbox only), so a node made later is
    # also seen by processes already running in nodes (their mount namespaces are its slaves)
    sc.mount(NETNS_DIR, NETNS_DIR, None, sc.MS_BIND)
    sc.mount(None, NETNS_DIR, None, sc.MS_SHARED)
    os.makedirs(STATE_DIR + "/logs")
    if rootless:
        _private_shm()
    return _overlay_etc()


def _private_shm() -> None:
    """The lab's own /dev/shm, of bounded size: a node that fills it fills the lab's, never the
    machine's memory (/dev/shm is a tmpfs of half of it). (/tmp stays the machine's, as for
    `ip netns exec`: the course, its Python or a learner's files may be there.)"""
    if os.path.isdir("/dev/shm"):
        sc.mount("tmpfs", "/dev/shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, f"mode=1777,size={SHM_SIZE}")


# --- a root lab gives up root -----------------------------------------------------------
# The uid and gid that root of a lab started by root is on this machine: the kernel's
# "nobody". What a node's root may do to the machine is then what nobody may: nothing
# beyond its own namespaces (no machine-wide sysctl, module, device, file or socket of root).
LAB_UID = 65534
RUN_SIZE = "128m"  # the lab's /run: its logs, sockets and nodes' /etc files live there
SHM_SIZE = "32m"  # the lab's /dev/shm


def needed_paths() -> list[str]:
    """What the sandbox and the lab's programs read after giving up root: this Python, its
    libraries, and this package."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = {os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.base_prefix,
             sys.exec_prefix, sys.base_exec_prefix, here, *sys.path}
    return sorted(os.path.realpath(p) for p in paths if p and os.path.exists(p))


def reveal(paths: list[str], uid: int) -> int:
    """Make ``paths`` reachable by any user, in this mount namespace only: a directory on the
    way that only its owner may enter (root's home, where pyenv lives; a 0750 home) is covered
    by an empty tmpfs in which only the entries leading to ``paths`` are bound back.
    Returns ``uid``."""
    for _ in range(32):  # each pass opens the outermost closed directory left
        closed = _closed_directories(paths)
        if not closed:
            return uid
        top = min(closed, key=len)
        inside = sorted({p[len(top):].lstrip("/").split("/")[0] for p in paths if p.startswith(top + "/")})
        old = os.open(top, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            sc.mount("tmpfs", top, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=755,size=64k")
            for name in inside:
                source = f"/proc/self/fd/{old}/{name}"
                if os.path.isdir(source):
                    os.mkdir(f"{top}/{name}")
                else:
                    open(f"{top}/{name}", "x").close()
                sc.mount(source, f"{top}/{name}", None, sc.MS_BIND | sc.MS_REC)
        finally:
            os.close(old)
    return uid


def _closed_directories(paths: list[str]) -> list[str]:
    """The directories on the way to ``paths`` that others may not enter."""
    closed = set()
    for path in paths:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            directory = "/" + "/".join(parts[:i])
            mode = os.stat(directory).st_mode
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                closed.add(directory)
                break
    return sorted(closed)


def give_up_root(ask_launcher) -> dict:
    """In PID 1 of a lab started by root: mount the lab's /proc while still root, then become
    root of a new user namespace that is :data:`LAB_UID` on the machine (the launcher, still
    root outside, writes the mapping when ``ask_launcher("map")`` is called), and make the
    network and mount namespaces there. Mounts made before are then locked: no node can
    unmount /proc to see the machine's, or make a read-only mount writable."""
    try:
        sc.unshare(sc.CLONE_NEWNS)  # the launcher keeps the machine's /proc, to write our map
        _mount_proc()
        _private_shm()  # (mounted as root, so that no node can unmount it)
        os.setgroups([])
        sc.unshare(sc.CLONE_NEWUSER)
        if not ask_launcher("map"):
            raise OSError(errno.EPERM, "the user namespace's map could not be written")
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        sc.unshare(sc.CLONE_NEWNET | sc.CLONE_NEWNS)
    except OSError as exc:
        raise LabUnavailable(
            f"A lab started by root gives up root in a user namespace of its own, and the kernel "
            f"refused it ({exc.strerror}). Allow user namespaces (`sysctl user.max_user_namespaces`"
            f" must be > 0; in a container: --security-opt seccomp=unconfined, see "
            f".devcontainer/devcontainer.json), or use the VM backend (NETHELPERS_BACKEND=vm)."
        ) from None
    return {"etc_netns": _lay_out_run(False)}


def map_user_namespace(pid: int, uid: int) -> None:
    """The launcher's side of :func:`give_up_root`: root of ``pid``'s user namespace is ``uid``."""
    _write(f"/proc/{pid}/setgroups", "deny")
    _write(f"/proc/{pid}/uid_map", f"0 {uid} 1")
    _write(f"/proc/{pid}/gid_map", f"0 {uid} 1")


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
    _mount_proc()
    check_sysctls_writable()


def _mount_proc() -> None:
    try:
        sc.mount("proc", "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    except OSError:
        pass  # e.g. inside a container with masked /proc, or mounted already: keep that one


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
