"""A node's own /etc files (``/etc/netns/NODE/FILE``, which ``ip netns exec`` mounts over
/etc), written for :class:`~nethelpers.sandbox.network.Network`."""

from __future__ import annotations

import os

from ..errors import InvalidValue
from .journal import Journal

ETC_FILES = ("resolv.conf", "hosts", "hostname", "nsswitch.conf")  # what a node may have of its own


class EtcOps:
    """write_etc, as a request of its own or an operation in a batch (a mixin of Network)."""

    def write_etc(self, node: str, filename: str, text: str) -> str:
        self.node(node)
        if filename not in ETC_FILES:  # a bare name, never a path
            raise InvalidValue(f"/etc/{filename} cannot be set per node; use {', '.join(ETC_FILES)}")
        folder = f"{self.etc_dir}/{node}"
        os.makedirs(folder, exist_ok=True)
        with open(f"{folder}/{filename}", "w") as f:
            f.write(text)
        return f"{folder}/{filename}"

    def op_write_etc(self, journal: Journal, node: str, filename: str, text: str) -> None:
        self.write_etc(node, filename, text)  # (not undone: the node it belongs to goes with a rollback)
