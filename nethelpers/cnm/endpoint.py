"""libnetwork's ``Endpoint``: joins a sandbox to a network; belongs to one network, and to at
most one sandbox at a time."""

from __future__ import annotations

import ipaddress

from .driverapi import SERVICE_INFO
from .errors import Forbidden, InvalidParameter, NoSuchObject


class Endpoint:
    """An endpoint of a :class:`~nethelpers.cnm.network.Network`.

    Attributes:
        address: ``A.B.C.D/LEN`` from IPAM ("" on networks without IPAM).
        mac: its MAC address (asked for, or the driver's choice).
        ifname: its interface's name in the sandbox (eth0, eth1, ...), "" while not joined.
        aliases: extra DNS names on its network (``--network-alias``).
        requested_ip: the address asked for (``--ip``), else None.
    """

    def __init__(self, network, eid: str, name: str, mac: str) -> None:
        self.network, self.id, self.name = network, eid, name
        self.address, self.mac = "", mac
        self.sandbox = None
        self.join_info: dict = {}  # what the driver's Join answered
        self.ifname = ""
        self.aliases: list[str] = []
        self.requested_ip: str | None = None

    @property
    def ip(self) -> ipaddress.IPv4Address | None:
        return ipaddress.ip_interface(self.address).ip if self.address else None

    @property
    def cidr(self) -> str:
        return self.address

    def _take_interface(self, given: dict, asked: dict) -> None:
        """What the driver set in CreateEndpoint's answer (libnetwork refuses changes)."""
        if given.get("MacAddress"):
            if asked.get("MacAddress"):
                raise InvalidParameter("driver modified interface MAC address: cannot set MAC address "
                                       f"({given['MacAddress']}) to a non-empty value",
                                       "the driver must not answer a MAC it was given")
            self.mac = given["MacAddress"]
        if given.get("Address"):
            if asked.get("Address"):
                raise InvalidParameter("driver modified interface address: cannot set IP address "
                                       f"({given['Address']}) to a non-empty value",
                                       "the driver must not answer an address IPAM gave")
            self.address = given["Address"]

    def _release_address(self) -> None:
        if self.network.ipam_name and self.address:
            self.network.ipam.release_address({"PoolID": self.network.pool_id,
                                               "Address": self.address.split("/")[0]})

    @property
    def gateway(self) -> str:
        return self.join_info.get("Gateway", "") if self.sandbox else ""

    def join(self, sandbox, *, priority: int = 0) -> None:
        """``endpoint.Join``: the driver's ``Join``, then the interface into the sandbox, its
        address and routes; the sandbox's best gateway endpoint (:meth:`Sandbox.best_gateway`)
        gives the default route and publishes the sandbox's ports. ``priority``:
        ``JoinOptionPriority`` (Docker 28+'s ``--gw-priority``; the highest gives the gateway)."""
        sandbox._check_alive("join")
        if self.network.endpoints.get(self.name) is not self:
            raise NoSuchObject(f"endpoint {self.name} not found", "it was deleted; create it again")
        if self.sandbox is not None:
            raise Forbidden("another container is attached to the same network endpoint",
                            f"{self.name} is joined to {self.sandbox.container_id}; leave it first, "
                            f"or create another endpoint")
        nid, driver = self.network.id, self.network.driver
        options = {SERVICE_INFO: {"Name": self.name, "Aliases": list(self.aliases)}} \
            if getattr(driver, "wants_service_info", False) else {}
        answer = driver.join({"NetworkID": nid, "EndpointID": self.id, "SandboxKey": sandbox.key, "Options": options})
        self.sandbox, self.join_info = sandbox, answer
        sandbox.priority[self.id] = priority
        try:
            sandbox._populate(self)
        except BaseException:
            sandbox.priority.pop(self.id, None)
            self.sandbox, self.join_info = None, {}
            driver.leave({"NetworkID": nid, "EndpointID": self.id})
            raise

    def leave(self, sandbox) -> None:
        """``endpoint.Leave``: the driver's ``Leave``, then the interface back out."""
        if self.sandbox is None:
            raise Forbidden("cannot leave endpoint with no attached sandbox",
                            f"{self.name} is not joined to any sandbox")
        if self.sandbox is not sandbox:
            raise Forbidden(f"unexpected sandbox ID in leave request. Expected {self.sandbox.id}. Got {sandbox.id}",
                            f"{self.name} is joined to {self.sandbox.container_id}, not {sandbox.container_id}")
        sandbox._leave(self)

    def oper_info(self) -> dict:
        """``EndpointOperInfo``: what the driver says about it (``docker network inspect``)."""
        return self.network.driver.endpoint_oper_info({"NetworkID": self.network.id, "EndpointID": self.id})

    def delete(self) -> None:
        """``endpoint.Delete``: refused while joined; then ``DeleteEndpoint``, then its address."""
        if self.network.endpoints.get(self.name) is not self:
            raise NoSuchObject(f"endpoint {self.name} not found", "it was deleted already")
        if self.sandbox is not None:
            raise Forbidden(f"endpoint with name {self.name} id {self.id} has active containers",
                            f"leave sandbox {self.sandbox.container_id} first")
        self.network.driver.delete_endpoint({"NetworkID": self.network.id, "EndpointID": self.id})
        self._release_address()
        del self.network.endpoints[self.name]

    def __repr__(self) -> str:
        where = f" in {self.sandbox.container_id[:12]} as {self.ifname or '-'}" if self.sandbox else ""
        return f"<Endpoint {self.name} on {self.network.name} {self.address}{where}>"
