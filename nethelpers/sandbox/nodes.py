"""Nodes: named network namespaces inside the sandbox, made without forking.

A node is created the way ``ip netns add`` does it — ``unshare(CLONE_NEWNET)``
and a bind mount of ``/proc/self/ns/net`` onto ``/run/netns/<name>`` — but by the
sandbox process itself, which then ``setns``-es back to the sandbox's root
namespace. Each node keeps an open namespace fd and a netlink socket opened
inside it, so later requests need no namespace switch at all.
"""

from __future__ import annotations

import os

from . import syscalls as sc
from .rtnl import Netlink
from .setup import NETNS_DIR


class Node:
    """A node as the sandbox holds it: its namespace, its netlink socket, and what is cached."""

    def __init__(self, name: str, fd: int, nl: Netlink, kind: str = "node", parent: str | None = None,
                 ipv6: bool = False) -> None:
        self.name, self.fd, self.nl = name, fd, nl
        self.kind, self.parent, self.ipv6 = kind, parent, ipv6
        # What the lab knows without asking the kernel; forgotten whenever something
        # else (a shell command, a removed link) may have changed the node.
        self.indexes: dict = {}             # ifname -> ifindex
        self.addrs: list | None = []        # (ifindex, address), loopback left out
        self.volatile = False               # a background process runs here: trust nothing cached

    def forget(self) -> None:
        self.indexes.clear()
        self.addrs = None

    @property
    def path(self) -> str:
        return f"{NETNS_DIR}/{self.name}"


def sysctl_path(key: str) -> str:
    """/proc/sys path of a sysctl; net.* ones belong to the namespace of whoever opens them."""
    return "/proc/sys/" + key.replace(".", "/")


def write_sysctl(key: str, value: str) -> None:
    with open(sysctl_path(key), "w") as f:
        f.write(value)


def read_sysctl(key: str) -> str:
    with open(sysctl_path(key)) as f:
        return f.read().strip()


def create(name: str, root_fd: int, *, kind: str = "node", parent: str | None = None,
           ipv6: bool = False) -> Node:
    """Create and name a new network namespace with loopback up."""
    path = f"{NETNS_DIR}/{name}"
    sc.unshare(sc.CLONE_NEWNET)
    fd = nl = None
    try:
        if not ipv6:
            write_sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        open(path, "x").close()
        try:
            sc.mount("/proc/self/ns/net", path, None, sc.MS_BIND)
        except OSError:
            os.unlink(path)
            raise
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        nl = Netlink()
        nl.link_set("lo", up=True)
    except BaseException:
        if nl is not None:
            nl.close()
        if fd is not None:
            os.close(fd)
            _unmount(path)
        raise
    finally:
        sc.setns(root_fd, sc.CLONE_NEWNET)
    return Node(name, fd, nl, kind, parent, ipv6)


NS_GET_NSTYPE = 0xB703  # ioctl on a namespace file: which kind of namespace it is (linux/nsfs.h)


def adopt(name: str, root_fd: int, *, parent: str | None) -> Node | None:
    """Take in a namespace someone named by hand (``ip netns add NAME`` in a node).

    None when ``/run/netns/NAME`` is no network namespace (a stray file or bind mount). As for
    the lab's own nodes, IPv6 is off for the interfaces made in it from now on; ``lo`` stays as
    ``ip netns add`` left it: down.
    """
    import fcntl

    try:
        fd = os.open(f"{NETNS_DIR}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if fcntl.ioctl(fd, NS_GET_NSTYPE) != sc.CLONE_NEWNET:
            raise OSError("not a network namespace")
        sc.setns(fd, sc.CLONE_NEWNET)
    except OSError:
        os.close(fd)
        return None
    try:
        write_sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        nl = Netlink()
    except BaseException:
        os.close(fd)
        raise
    finally:
        sc.setns(root_fd, sc.CLONE_NEWNET)
    return Node(name, fd, nl, "container" if parent else "node", parent)


def netns_id(fd: int) -> tuple[int, int]:
    """Which network namespace an fd (of /run/netns/NAME, /proc/PID/ns/net) is: (st_dev, st_ino)."""
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def pids_in(netns: set[tuple[int, int]]):
    """The lab's processes (the sandbox left out) whose network namespace is one of ``netns``."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                st = os.stat(f"/proc/{entry}/ns/net")
            except OSError:
                continue  # gone meanwhile, or not ours to see
            if (st.st_dev, st.st_ino) in netns:
                yield int(entry)


def in_use(node: Node) -> bool:
    """Does a process of the lab (other than the sandbox) run in the node's network namespace?"""
    return next(pids_in({netns_id(node.fd)}), None) is not None


def let_go(node: Node, etc_dir: str) -> None:
    """Forget a node whose name someone removed by hand (``ip netns delete``)."""
    node.nl.close()
    os.close(node.fd)
    _remove_tree(f"{etc_dir}/{node.name}")


def _unmount(path: str) -> None:
    try:
        sc.umount(path)
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def destroy(node: Node, etc_dir: str) -> None:
    """Forget the namespace and its name: once no process or fd holds it, the kernel frees it."""
    let_go(node, etc_dir)
    _unmount(node.path)


def _remove_tree(path: str) -> None:
    """rm -rf of a node's small /etc directory (shutil is not imported here: see commands._on_path)."""
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            entry = os.path.join(root, name)
            try:
                os.unlink(entry) if os.path.islink(entry) else os.rmdir(entry)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def enter(node_path: str | None, etc_dir: str, name: str | None) -> None:
    """In a freshly forked child: join a node like ``ip netns exec`` does.

    Joins the namespace, takes a private mount namespace, remounts /sys so that
    /sys/class/net shows the node's interfaces, and binds the node's
    /etc/netns/<node>/* files over /etc/*.
    """
    import signal

    sc.set_parent_death_signal(signal.SIGKILL)
    for private in PRIVATE_FDS:  # never in a node's process, even before exec closes the rest
        try:
            os.close(private)
        except OSError:
            pass
    if OOM_SHIELDED:
        sc.allow_tracing()  # as exec will: /proc/self is this process's own again, to write to
        _ordinary_oom_score()
    if node_path is None:
        return
    fd = os.open(node_path, os.O_RDONLY)
    sc.setns(fd, sc.CLONE_NEWNET)
    os.close(fd)
    # A mount namespace of its own, in which every mount is private (setup made the sandbox's
    # so) but /run/netns, which stays shared with the sandbox's: a namespace named or deleted
    # in here by `ip netns add/delete` is named or deleted for the whole lab, as on a machine.
    sc.unshare(sc.CLONE_NEWNS)
    try:
        sc.mount(name, "/sys", "sysfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)  # over the old one
    except OSError:
        pass  # e.g. a container that forbids it: /sys/class/net then shows the sandbox's
    own_etc = f"{etc_dir}/{name}"
    if os.path.isdir(own_etc):
        for entry in os.listdir(own_etc):
            try:
                sc.mount(f"{own_etc}/{entry}", f"/etc/{entry}", None, sc.MS_BIND)
            except OSError:
                pass


def _oom_score() -> str:
    try:
        with open("/proc/self/oom_score_adj") as f:
            return f.read().strip()
    except OSError:
        return "0"


# In the VM the agent shields itself before it imports the sandbox (nethelpers/vm/agent.py)
OOM_SHIELDED = _oom_score() != "0"
# the sandbox's connection to its owner and its socket to the launcher (server.main sets them)
PRIVATE_FDS: list[int] = []


def _ordinary_oom_score() -> None:
    """In the VM the lab's sandbox is shielded from the guest's OOM killer (the agent sets
    -1000, which children inherit); what runs in a node is not: a learner's runaway program is
    what the guest kills, never the lab."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("0")
    except OSError:
        pass
