"""What the CNM model raises: libnetwork's own message, then what to do about it.

``err.libnetwork`` is the exact text libnetwork returns (moby v27 ``libnetwork/error.go``,
``network.go``, ``endpoint.go``, ``controller.go``); ``str(err)`` adds the fix.
"""

from __future__ import annotations

from ..errors import InvalidInput, LabError, NotFound


class CNMError(LabError):
    """Refused by the model (libnetwork would refuse the same)."""

    def __init__(self, libnetwork: str, fix: str = "") -> None:
        super().__init__(f"{libnetwork} ({fix})" if fix else libnetwork)
        self.libnetwork, self.fix = libnetwork, fix

    def __reduce__(self):
        return (type(self), (self.libnetwork, self.fix))


class Forbidden(CNMError):
    """A lifecycle rule says no (libnetwork's ``types.ForbiddenError``)."""


class InvalidParameter(CNMError, InvalidInput):
    """Bad input: a name, a pool, an address (libnetwork's ``InvalidParameterError``)."""


class NoSuchObject(CNMError, NotFound):
    """An unknown network, endpoint, sandbox or driver."""


class PluginError(CNMError):
    """A remote plugin answered with an error (``{"Err": ...}`` or an HTTP error status)."""

    def __init__(self, libnetwork: str, fix: str = "", status: int = 200) -> None:
        super().__init__(libnetwork, fix)
        self.status = status

    def __reduce__(self):
        return (type(self), (self.libnetwork, self.fix, self.status))


class DriverFailure(CNMError):
    """A driver's kernel work failed (the command and what it printed)."""


class Unsupported(CNMError):
    """Something Docker does that the lab's driver does not (the message says what instead)."""
