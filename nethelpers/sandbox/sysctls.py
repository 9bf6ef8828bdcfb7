"""Per-node sysctls (``net.*`` only), read and set from the sandbox, with their undo.

The methods of :class:`SysctlOps` are part of :class:`.network.Network`.
"""

from __future__ import annotations

import errno
import re

from ..errors import KernelError, NotFound
from .. import validate
from ..i18n import _
from . import nodes as nodes_mod
from .journal import Journal


class SysctlOps:
    """Reading and setting sysctls in a node; mixed into :class:`.network.Network`."""

    def op_sysctl(self, journal: Journal, node: str, key: str, value) -> None:
        validate.sysctl_settable(key)  # (the owner checks it too) never a machine-wide setting
        old = self.read_sysctl(node, key)
        self._in_node(node, lambda: _write_value(node, key, str(value), old), key)
        journal.record(lambda: self._write_sysctl(node, key, old))

    def read_sysctl(self, node: str, key: str) -> str:
        return self._in_node(node, lambda: nodes_mod.read_sysctl(key), key)

    def _write_sysctl(self, node: str, key: str, value: str) -> None:
        self._in_node(node, lambda: nodes_mod.write_sysctl(key, value), key)

    def _in_node(self, node: str, action, key: str):
        """Run ``action`` with the sandbox switched into the node's namespace."""
        from . import syscalls as sc

        sc.setns(self.node(node).fd, sc.CLONE_NEWNET)
        try:
            return action()
        except FileNotFoundError:
            raise NotFound(_("no sysctl {key} (no {path}) in node {node}").format(
                key=repr(key), path=nodes_mod.sysctl_path(key), node=repr(node))) from None
        except OSError as exc:
            raise KernelError(_("sysctl {key} in node {node}: {error}").format(
                key=key, node=repr(node), error=exc.strerror)) from None
        finally:
            sc.setns(self.root_fd, sc.CLONE_NEWNET)


def _write_value(node: str, key: str, value: str, old: str) -> None:
    """Write a sysctl; a value the kernel refuses is named with the kind of value it takes."""
    try:
        nodes_mod.write_sysctl(key, value)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        raise KernelError(_("sysctl {key} in node {node}: the kernel refused the value {value} "
                            "({error}); {expected}").format(
                                key=key, node=repr(node), value=repr(value), error=exc.strerror,
                                expected=_expected(old))) from None


def _expected(old: str) -> str:
    """What a sysctl takes, judged by its current value."""
    words = old.split()
    if words and all(re.fullmatch(r"-?[0-9]+", w) for w in words):
        kind = (_("a number") if len(words) == 1
                else _("{count} numbers separated by spaces").format(count=len(words)))
        return _("it takes {kind} (now {old}), within the range the kernel allows for it: "
                 "see https://docs.kernel.org/networking/ip-sysctl.html").format(kind=kind, old=repr(old))
    return _("give a value of the kind it holds now, {old}").format(old=repr(old))
