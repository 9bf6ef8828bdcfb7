"""CNI in the lab: a runtime in the spirit of libcni/cnitool that runs the real reference plugins.

``Runtime(lab, "host").add(conflist, "pod1")`` executes the plugins of a network
configuration in a node playing the Kubernetes node, exactly as SPEC 1.1.0 says; see
:mod:`nethelpers.cni.runtime` (and :mod:`nethelpers.cni.invoke`: how one plugin is executed).
``python -m nethelpers cni`` is the cnitool-like command.
"""

from .config import SPEC_VERSION, NetworkConfigList, load
from .errors import CODES, CNIError
from .plugindirs import PLUGIN_DIRS, plugin_dir, plugin_dirs
from .exchange import Exchange, Outcome
from .invoke import NETWORKS_DIR
from .runtime import PLUGIN_DIR, Runtime

__all__ = ["CODES", "CNIError", "Exchange", "NETWORKS_DIR", "NetworkConfigList", "Outcome", "PLUGIN_DIR",
           "PLUGIN_DIRS", "Runtime", "SPEC_VERSION", "load", "plugin_dir", "plugin_dirs"]
