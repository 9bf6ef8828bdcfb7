"""Swarm mode, as far as overlay networks need it: ``swarm init / join / leave``,
``join-token``, ``node ls``, and the manager's allocators.

What the lab keeps of Swarm: one manager per lab, workers that join with the
worker token, the ``ingress`` network listed on every node (VNI 4096,
10.0.0.0/24, its routing mesh not built), overlay networks created on the
manager with the next VNI (4097, 4098, ...) and the next 10.0.N.0/24, and
addresses handed out by the manager. Not kept: Raft, TLS and the CA behind the
tokens (the token is checked as a string), services and tasks. The overlay's
*data-plane* control plane — which endpoint lives on which host — is real
traffic between the hosts' agents (``nethelpers.programs.overlay_agent``), not this object.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from ..cnm.ipam import GATEWAY_OPTION, DefaultIpam
from .errors import DaemonError
from .naming import now

MANAGER_PORT = 2377
FIRST_VNI = 4096                              # the ingress network takes it (ovmanager's bitmap)
DEFAULT_POOL = ipaddress.ip_network("10.0.0.0/8")


def base36_id(*parts: object, length: int = 25) -> str:
    """A Swarm-style identifier (25 base-36 digits), derived from ``parts``."""
    number = int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest(), 16)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while len(out) < length:
        number, digit = divmod(number, 36)
        out += digits[digit]
    return out


@dataclass
class OverlaySpec:
    """An overlay network as the cluster knows it (the same ID, VNI and pool on every host)."""
    id: str
    name: str
    vni: int
    subnet: str                                   # A.B.C.D/LEN
    gateway: str                                  # A.B.C.D/LEN
    pool_id: str
    attachable: bool
    internal: bool
    created: str
    ingress: bool = False
    user_configured: bool = False                 # --subnet was given (--ip needs it)
    options: dict = field(default_factory=dict)   # driver options (-o com.docker.network.driver.mtu=...)


@dataclass
class Swarm:
    manager: str                                  # the manager's host name
    address: str                                  # its advertise address
    id: str = ""
    nodes: dict = field(default_factory=dict)     # host name -> node ID, in join order
    networks: dict = field(default_factory=dict)  # name -> OverlaySpec
    next_vni: int = FIRST_VNI
    ipam: DefaultIpam = field(default_factory=lambda: DefaultIpam(
        [str(s) for s in DEFAULT_POOL.subnets(new_prefix=24)], spaces=("LocalDefault", "GlobalDefault")))

    def __post_init__(self) -> None:
        self.id = base36_id("swarm", self.manager, self.address)
        self.add_network("ingress", attachable=False, internal=False, ingress=True)

    def token(self, role: str) -> str:
        """``SWMTKN-1-<CA digest, 50>-<secret, 25>``: the shape of Docker's join tokens."""
        return f"SWMTKN-1-{base36_id('ca', self.id, length=50)}-{base36_id('secret', role, self.id)}"

    def node_id(self, host: str) -> str:
        return base36_id("node", self.id, host)

    def add_network(self, name: str, *, attachable: bool, internal: bool, subnet: str | None = None,
                    gateway: str | None = None, ingress: bool = False, options: dict | None = None) -> OverlaySpec:
        if name in self.networks:
            raise DaemonError(f"network with name {name} already exists")
        pool = self.ipam.request_pool({"AddressSpace": "GlobalDefault", "Pool": subnet or "", "SubPool": "",
                                       "Options": {}, "V6": False})
        try:
            gw = self.ipam.request_address({"PoolID": pool["PoolID"], "Address": gateway or "",
                                            "Options": dict([GATEWAY_OPTION])})["Address"]
        except BaseException:
            self.ipam.release_pool({"PoolID": pool["PoolID"]})
            raise
        spec = OverlaySpec(base36_id("network", self.id, name), name, self.next_vni, pool["Pool"], gw,
                           pool["PoolID"], attachable, internal, now(), ingress, user_configured=bool(subnet),
                           options=dict(options or {}))
        self.next_vni += 1
        self.networks[name] = spec
        return spec

    def remove_network(self, name: str) -> None:
        spec = self.networks.pop(name)
        self.ipam.release_address({"PoolID": spec.pool_id, "Address": spec.gateway.split("/")[0]})
        self.ipam.release_pool({"PoolID": spec.pool_id})

    def find(self, ref: str) -> OverlaySpec | None:
        if ref in self.networks:
            return self.networks[ref]
        matches = [s for s in self.networks.values() if s.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None


def of(lab) -> Swarm | None:
    """The lab's swarm, if a host has run ``swarm init``."""
    from . import engine_of

    return engine_of(lab).swarm


def init_text(swarm: Swarm, host: str) -> str:
    return (f"Swarm initialized: current node ({swarm.node_id(host)}) is now a manager.\n\n"
            f"To add a worker to this swarm, run the following command:\n\n"
            f"    docker swarm join --token {swarm.token('worker')} {swarm.address}:{MANAGER_PORT}\n\n"
            f"To add a manager to this swarm, run 'docker swarm join-token manager' and follow the "
            f"instructions.\n\n")
