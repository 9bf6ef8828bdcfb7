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
from .lab import Lab, close_all, current_lab
from .node import Node
from .results import BackgroundProcess, CommandResult

__version__ = "0.1.0"


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
