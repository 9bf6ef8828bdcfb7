"""``null`` (``--network none``): the sandbox keeps only its loopback."""

from __future__ import annotations

from ..driverapi import Driver
from ..errors import Forbidden


class OnlyOne(Driver):
    """null and host: one network of the type, made when the daemon starts, never deleted."""

    def __init__(self, kernel=None, **config) -> None:
        self.network: str | None = None

    def create_network(self, req: dict) -> dict:
        if self.network is not None:
            raise Forbidden(f'only one instance of "{self.name}" network is allowed',
                            f"use the existing {self.name} network")
        self.network = req["NetworkID"]
        return {}

    def delete_network(self, req: dict) -> dict:
        raise Forbidden(f'network of type "{self.name}" cannot be deleted',
                        "it exists as long as the daemon does")


class NullDriver(OnlyOne):
    """``null``: no interface; the container keeps its loopback only."""

    name = "null"
