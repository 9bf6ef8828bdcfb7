"""libnetwork's Container Network Model (CNM), live in a lab: the core the Docker engine is built on.

    controller.py  Controller: drivers, IPAMs, networks, sandboxes of one host
    network.py     Network      endpoint.py  Endpoint      sandbox.py  Sandbox (Join's kernel side)
    ipam.py        the default IPAM (Docker's pools)       driverapi.py  what a driver is asked
    kernel.py      kernel changes, each logged as the command it stands for
    ids.py         IDs, veth names, MACs                   errors.py     libnetwork's errors
    drivers/       the built-in drivers, one module each (null, host, bridge, macvlan, ipvlan, overlay)
    remote.py      the remote protocol: plugins as drivers and IPAMs (a plugin written in Python:
                   nethelpers.programs.network_plugin)

The names below are imported on first use, so that a program run in a node that needs only
``ids`` or ``ipam`` does not load the controller, the drivers and the lab API.
"""

import importlib

from .errors import CNMError, DriverFailure, Forbidden, InvalidParameter, NoSuchObject, PluginError

_LAZY = {"Controller": ".controller", "Network": ".network", "Endpoint": ".endpoint", "Sandbox": ".sandbox",
         "start_plugin": ".remote", "format_exchanges": ".remote"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Controller", "Network", "Endpoint", "Sandbox", "CNMError", "Forbidden", "InvalidParameter",
           "NoSuchObject", "PluginError", "DriverFailure", "start_plugin", "format_exchanges"]
