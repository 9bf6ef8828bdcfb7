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
_LAZY = {"Lab": "lab", "close_all": "lab", "current_lab": "lab", "Node": "node",
         "BackgroundProcess": "results", "CommandResult": "results"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(shell) -> None:
    """``%load_ext nethelpers``: the %lab / %%lab magics."""
    from .magics import register

    register(shell)


__all__ = [
    "Lab", "Node", "CommandResult", "BackgroundProcess", "close_all", "current_lab",
    "LabError", "LabUnavailable", "LabClosed", "MissingFeature", "InvalidInput", "InvalidName",
    "InvalidValue", "InvalidAddress", "AlreadyExists", "NotFound", "KernelError",
    "CommandFailed", "CommandTimeout", "Interrupted",
]
