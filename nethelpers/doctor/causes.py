"""Errors turned into a named cause and a fix: one line each, never a traceback.

The sandbox reports an ``OSError`` it did not expect as "unexpected OSError in the sandbox:
[Errno 30] Read-only file system: '/proc/sys/...'" followed by its traceback; a machine that
refuses namespaces fails in such places. :func:`describe` names the cause the errno and the
path give away, and what to do.

    >>> describe("[Errno 30] Read-only file system: '/proc/sys/net/ipv6/conf/default/disable_ipv6'")[0]
    "/proc/sys is read-only here (a container's default /proc masking): namespaces cannot be configured"
"""

from __future__ import annotations

import errno
import re

from ..errors import LabUnavailable
from .model import or_vm

ERRNO = re.compile(r"\[Errno (\d+)\] ([^:\n]+)(?:: '([^'\n]*)')?")
NOT_HERE = or_vm()


def one_line(text: str) -> str:
    """The message without its traceback and without the sandbox's "unexpected X in the sandbox:"."""
    text = str(text).split("\nTraceback", 1)[0].strip()
    text = re.sub(r"^unexpected \w+ in the sandbox: ", "", text)
    return " ".join(text.split())


def describe(text: str) -> tuple[str, str | None]:
    """(cause, fix) for an error message: the cause is one line; fix is None when none is known."""
    line = one_line(text)
    found = ERRNO.search(line)
    if found is None:
        return line, None
    number, path = int(found[1]), found[3] or ""
    if number == errno.EROFS and path.startswith("/proc/sys"):
        return ("/proc/sys is read-only here (a container's default /proc masking): namespaces cannot "
                "be configured", NOT_HERE)
    if number == errno.EROFS:
        return f"{path or 'a file system the lab writes to'} is read-only here", NOT_HERE
    if number == errno.EACCES and path.startswith(("/proc", "/sys")):
        return (f"{path} may not be written here (permission denied: a container's masking of /proc "
                "or a security policy)", NOT_HERE)
    if number == errno.EPERM:
        return (f"the kernel refused it ({found[2].strip()}: operation not permitted): a container "
                "without CAP_SYS_ADMIN, a seccomp filter or a security policy",
                or_vm("Run where you are root (e.g. the course's devcontainer)."))
    if number == errno.ENOSPC and "namespace" in line:
        return "no more namespaces may be created (a sysctl's limit is reached)", NOT_HERE
    return line, None


def sandbox_failure(error: BaseException) -> tuple[str, str]:
    """Why a lab's sandbox did not start or could not make a node, and the fix (never a traceback)."""
    text = one_line(error)
    if isinstance(error, LabUnavailable):   # it names its cause and fix itself: show them as they are
        said = re.split(r" [Ff]ix: ", text, maxsplit=1)
        return said[0].strip(), or_vm(said[1] if len(said) == 2 else "")
    cause, fix = describe(text)
    return cause, fix or or_vm("Report this output to the course's maintainers.")
