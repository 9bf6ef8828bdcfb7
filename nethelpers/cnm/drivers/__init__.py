"""The built-in network drivers, one module each, registered by name.

    null.py     ``--network none``: loopback only
    host.py     ``--network host``: the host's own namespace
    bridge/     a Linux bridge per network, veth pairs, Docker's iptables rules and published ports
    macvlan.py  a macvlan of a parent interface per container
    ipvlan.py   an ipvlan of a parent interface per container (L2 or L3), sharing its MAC
    overlay.py  one network across hosts: a VXLAN in a namespace per network and host

A plugin (``docker network create -d NAME`` with NAME a plugin serving libnetwork's remote
protocol) is driven by :class:`nethelpers.cnm.remote.RemoteDriver` instead. Adding a
driver: a module with a :class:`~nethelpers.cnm.driverapi.Driver` subclass, listed here.
"""

from __future__ import annotations

from .bridge import BridgeDriver
from .host import HostDriver
from .ipvlan import IpvlanDriver
from .macvlan import MacvlanDriver
from .null import NullDriver
from .overlay import OverlayDriver

BUILTIN = {driver.name: driver for driver in (NullDriver, HostDriver, BridgeDriver, MacvlanDriver,
                                               IpvlanDriver, OverlayDriver)}

__all__ = ["BUILTIN", "BridgeDriver", "HostDriver", "IpvlanDriver", "MacvlanDriver", "NullDriver", "OverlayDriver"]
