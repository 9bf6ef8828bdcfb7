"""Addresses of overlay networks, which belong to the cluster, not to one host.

Each Docker host's controller has a ``cluster`` IPAM driver (the IPAM contract of
:mod:`nethelpers.cnm.ipam`) that forwards to where the cluster keeps its addresses: the
swarm manager's allocator (swarmkit's, a :class:`~nethelpers.cnm.ipam.DefaultIpam` of the
:class:`~nethelpers.docker.swarm.Swarm`) or, in the ``--cluster-store`` era, the key-value
store (``docker/network/v1.0/ipam/<network id>/<address>``, claimed with create-only keys).
The pool and gateway were chosen when the network was created; a host never releases them.
"""

from __future__ import annotations

import ipaddress

from ..cnm.errors import Forbidden, InvalidParameter

GATEWAY_DATA = "com.docker.network.gateway"
KV_IPAM = "docker/network/v1.0/ipam/"


class ClusterIpam:
    """The ``cluster`` IPAM of one Docker host (see the module's docstring).

    Args:
        host: the DockerHost (its agent reaches the store; its lab holds the swarm).
        spec_of: network subnet -> the cluster's record of it (an OverlaySpec).
    """

    def __init__(self, host, spec_of) -> None:
        self.host, self.spec_of = host, spec_of

    def capabilities(self, req=None) -> dict:
        return {"RequiresMACAddress": False, "RequiresRequestReplay": False}

    def get_default_address_spaces(self, req=None) -> dict:
        return {"LocalDefaultAddressSpace": "LocalDefault", "GlobalDefaultAddressSpace": "GlobalDefault"}

    def request_pool(self, req: dict) -> dict:
        spec = self.spec_of(req.get("Pool") or "")
        if spec is None:
            raise InvalidParameter(f"the cluster has no overlay network with subnet {req.get('Pool')}",
                                   "create overlay networks on the manager (or in the store)")
        return {"PoolID": spec.pool_id, "Pool": spec.subnet, "Data": {GATEWAY_DATA: spec.gateway}}

    def release_pool(self, req: dict) -> dict:
        return {}  # the cluster's: it goes when the network is removed on the manager or from the store

    def request_address(self, req: dict) -> dict:
        spec = self._spec(req)
        if self.host.cluster_store:
            return {"Address": self._kv_claim(spec, req.get("Address") or ""), "Data": {}}
        return self.host.swarm_ipam().request_address(req)

    def release_address(self, req: dict) -> dict:
        pool_id = req.get("PoolID", "")
        if self.spec_of(pool_id.split("/", 1)[1] if "/" in pool_id else "") is None:
            return {}  # the network was removed from the cluster, and its addresses with it
        spec = self._spec(req)
        if req.get("Address") == spec.gateway.split("/")[0]:
            return {}  # the network's gateway stays the cluster's
        if self.host.cluster_store:
            self.host._ask("kv_delete", key=f"{KV_IPAM}{spec.id}/{req['Address']}")
            return {}
        return self.host.swarm_ipam().release_address(req)

    def _spec(self, req: dict):
        pool_id = req.get("PoolID", "")
        spec = self.spec_of(pool_id.split("/", 1)[1] if "/" in pool_id else "")
        if spec is None:
            raise InvalidParameter(f"invalid pool id: {pool_id}", "use a PoolID that RequestPool returned")
        return spec

    def _kv_claim(self, spec, wanted: str) -> str:
        """Claim an address in the store (create-only keys), lowest free first."""
        prefix = f"{KV_IPAM}{spec.id}/"
        subnet, gateway = ipaddress.ip_network(spec.subnet), ipaddress.ip_interface(spec.gateway).ip
        taken = {k.strip("/").split("/")[-1] for k in self.host._ask("kv_get", prefix=prefix)["items"]}
        candidates = [ipaddress.ip_address(wanted)] if wanted else \
            [a for a in subnet.hosts() if a != gateway and str(a) not in taken]
        for address in candidates:
            answer = self.host._ask_raw("kv_put", key=prefix + str(address), value=self.host.name, create=True)
            if "error" not in answer:
                return f"{address}/{subnet.prefixlen}"
        raise Forbidden("Address already in use" if wanted else
                        f"no available IPv4 addresses on this network's address pools: {subnet}")
