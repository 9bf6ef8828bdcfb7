"""libnetwork's Container Network Model (CNM), live in a lab.

:mod:`.model` (Controller, Network, Endpoint, Sandbox and their rules), :mod:`.drivers`
(null, host, bridge), :mod:`.ipam` (the default IPAM), :mod:`.osl` (interfaces into
sandboxes), :mod:`.remote` (the plugin client) and :mod:`.plugin` (a plugin server).
"""

from .errors import CNMError, DriverFailure, Forbidden, InvalidParameter, NoSuchObject, PluginError
from .model import Controller, Endpoint, Network, Sandbox
from .remote import format_exchanges, start_plugin

__all__ = ["Controller", "Network", "Endpoint", "Sandbox", "CNMError", "Forbidden", "InvalidParameter",
           "NoSuchObject", "PluginError", "DriverFailure", "start_plugin", "format_exchanges"]
