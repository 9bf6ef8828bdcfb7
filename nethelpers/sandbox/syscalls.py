"""The few Linux system calls the sandbox needs that Python 3.10 does not expose.

``os.unshare``/``os.setns`` arrived in Python 3.12; ``mount`` and ``prctl`` are
not in the standard library at all, so they are called through libc.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    result = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
    _check(result, f"mount {target}")


def umount(target: str) -> None:
    _check(_libc.umount2(_b(target), ctypes.c_int(MNT_DETACH)), f"umount {target}")


def set_process_name(name: str) -> None:
    """What ``ps -o comm`` shows for this process (at most 15 bytes)."""
    _check(_libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0), "prctl")


def set_parent_death_signal(signum: int) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signum), 0, 0, 0), "prctl")


def forbid_tracing() -> None:
    """No process of a lower user namespace may ptrace this one, read its memory or take its
    file descriptors (pidfd_getfd): the kernel then asks for CAP_SYS_PTRACE where this
    program was started, which no node has. (``exec`` gives a new program the default back.)"""
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl")


def allow_tracing() -> None:
    """Undo :func:`forbid_tracing` in a forked child that holds nothing of its parent's."""
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl")


# Syscalls that change uid/gid/groups, by architecture (audit arch id, numbers).
_ID_SYSCALLS = {
    "x86_64": (0xC000003E, (105, 106, 116, 117, 119)),   # setuid setgid setgroups setresuid setresgid
    "aarch64": (0xC00000B7, (146, 144, 159, 147, 149)),
}


def make_id_changes_noops() -> bool:
    """Install a seccomp filter under which setuid/setgid/setgroups do nothing and succeed.

    Used only in a rootless sandbox, where the user namespace maps a single uid:
    tools that drop privileges (tcpdump to its 'tcpdump' user) would otherwise
    fail, since the target ids do not exist here. Every process of the sandbox is
    root of that user namespace and of nothing else, so nothing is given away.
    Returns False on an architecture this does not know.
    """
    import platform
    import struct

    arch = _ID_SYSCALLS.get(platform.machine())
    if arch is None:
        return False
    audit_arch, numbers = arch
    ld_abs, jeq, ret = 0x20, 0x15, 0x06
    allow, fake_success = 0x7FFF0000, 0x00050000  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | 0
    n = len(numbers)
    prog = [(ld_abs, 0, 0, 4), (jeq, 0, n + 1, audit_arch), (ld_abs, 0, 0, 0)]
    prog += [(jeq, n - i, 0, nr) for i, nr in enumerate(numbers)]
    prog += [(ret, 0, 0, allow), (ret, 0, 0, fake_success)]
    filters = b"".join(struct.pack("HBBI", *insn) for insn in prog)
    buf = ctypes.create_string_buffer(filters)
    fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog)
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fbuf, 0, 0), "seccomp")
    return True
