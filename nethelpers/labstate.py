"""What a lab remembers about itself on the notebook's side, in one explicit object.

The kernel holds the lab's real state (read it with :meth:`Lab.snapshot`); what is kept
here is what the modules built on the lab need between calls and cannot read back from
the kernel: which LAN address each host was given, and the lab's Docker engine.
Every :class:`~nethelpers.lab.Lab` has one, as ``lab.state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LabState:
    """The per-lab state of the modules around the lab core (:mod:`nethelpers.world`,
    :mod:`nethelpers.docker`).

    Attributes:
        lan_addresses: host name -> its address on the LAN 198.51.100.0/24 (``world.add_host``).
        lan_numbered: the hosts given the next free LAN address (.10, .11, ...), in that order.
        docker: the Docker engine of this lab, created by nethelpers.docker on first use.
        k8s: the Kubernetes cluster of this lab, created by nethelpers.k8s (``lab.kubernetes()``).
    """

    lan_addresses: dict[str, str] = field(default_factory=dict)
    lan_numbered: list[str] = field(default_factory=list)
    docker: object | None = None
    k8s: object | None = None
