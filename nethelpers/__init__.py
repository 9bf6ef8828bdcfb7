"""nethelpers: build real container networks in an isolated lab, and look inside.

    from nethelpers import Lab
    lab = Lab()                     # a sandbox: own network, mount (and user) namespaces
    c1 = lab.add_node("c1")         # a node = a named network namespace
    c1.run("ip -br link")           # like `ip netns exec c1 ip -br link`
    lab.plot()                      # the topology, drawn from the live kernel
    lab.close()                     # everything goes; so it does if the kernel dies
"""

from .errors import (AlreadyExists, CommandFailed, CommandTimeout, Interrupted, InvalidAddress,
                     InvalidInput, InvalidName, InvalidValue, KernelError, LabClosed, LabError, LabUnavailable,
                     MissingFeature, NotFound)

__version__ = "0.1.0"

# Imported when first used (PEP 562): the processes the lab starts in its nodes (lab-dns, the
# docker agents and proxies, the tracer's probe) are modules of this package, and each starts
# faster without the notebook's side of it — seconds, in the VM backend's emulated CPU.
# ``load_ipython_extension`` is the magics' (``%load_ext nethelpers``): IPython looks it up with
# hasattr(), which imports nethelpers.magics, and IPython with it, only then.
_LAZY = {"Lab": "lab", "close_all": "lab", "current_lab": "lab", "Node": "node", "Interface": "node",
         "BackgroundProcess": "results", "CommandResult": "results",
         "LabState": "labstate", "load_ipython_extension": "magics"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Lab", "Node", "Interface", "CommandResult", "BackgroundProcess", "close_all", "current_lab",
    "LabError", "LabUnavailable", "LabClosed", "MissingFeature", "InvalidInput", "InvalidName",
    "InvalidValue", "InvalidAddress", "AlreadyExists", "NotFound", "KernelError",
    "CommandFailed", "CommandTimeout", "Interrupted",
]
