"""The lab's exceptions: each names the object, the cause and the fix.

Every exception takes a single message so that it crosses the pipe between the
sandbox process and the notebook (pickle) unchanged.
"""


class LabError(Exception):
    """Base class of everything the lab raises on purpose."""


class LabUnavailable(LabError):
    """This machine cannot run a lab at all (no root and no user namespaces)."""


class MissingFeature(LabError):
    """A kernel feature or a tool the request needs is not on this machine."""


class InvalidInput(LabError):
    """Input refused before anything reached the kernel."""


class InvalidName(InvalidInput):
    """A node or interface name the kernel would refuse (too long, bad characters)."""


class InvalidValue(InvalidInput):
    """A number out of range (MTU, VNI, port) or an unknown option value."""


class InvalidAddress(InvalidInput):
    """A CIDR or address that is malformed, overlapping or outside its subnet."""


class AlreadyExists(LabError):
    """Something with that name exists already and has a different shape."""


class NotFound(LabError):
    """The node, interface or process named does not exist in the lab."""


class KernelError(LabError):
    """The kernel refused a request; the message carries its errno text."""


class CommandFailed(LabError):
    """A command run with ``check=True`` exited with a non-zero status."""


class CommandTimeout(LabError):
    """A command in a node ran longer than its timeout and was killed."""


class LabClosed(LabError):
    """The lab was closed (or its sandbox died); create a new one."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while a command ran in a node: the command got SIGINT, as in a terminal.

    ``reply`` holds what the sandbox answered (for ``run``: its output so far).
    """

    def __init__(self, reply=None) -> None:
        super().__init__("interrupted")
        self.reply = reply
        self.result = None  # set by Node.run to the CommandResult
