"""The overlay agent's kernel side: one peer written into, or deleted from, a network's ``vxlan0``
(Docker's peerAddOp / peerDeleteOp), in the network's sandbox."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .overlay_agent_base import Peer


def program_peer(sandbox: str, peer: Peer, add: bool, log: Callable[[str], None]) -> None:
    """Run the ``ip neigh`` and ``bridge fdb`` commands for ``peer`` in ``sandbox``; log each."""
    ip = peer.ip.split("/")[0]
    if add:
        commands = [f"ip neigh replace {ip} lladdr {peer.mac} dev vxlan0 nud permanent",
                    f"bridge fdb replace {peer.mac} dev vxlan0 dst {peer.vtep} self permanent"]
    else:
        commands = [f"bridge fdb del {peer.mac} dev vxlan0 dst {peer.vtep} self",
                    f"ip neigh del {ip} dev vxlan0"]
    for command in commands:
        words = command.split()
        result = subprocess.run([words[0], "-n", sandbox, *words[1:]], capture_output=True, text=True)
        log(f"  {command}" + (f"  -> {result.stderr.strip()}" if result.returncode else ""))
