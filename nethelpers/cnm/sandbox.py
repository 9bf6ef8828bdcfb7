"""libnetwork's ``Sandbox``: a container's network stack, a network namespace (a lab node)
and its endpoints; the daemon's side of Join and Leave (``osl``): the interface the driver
named moved in and renamed ``eth<N>``, its address and routes, the default gateway."""

from __future__ import annotations

from .driverapi import PORT_MAP
from .errors import DriverFailure, NoSuchObject

GATEWAY_NETWORK = "docker_gwbridge"  # libnetwork's libnGWNetwork


class Sandbox:
    """A sandbox of a :class:`~nethelpers.cnm.controller.Controller`.

    Attributes:
        endpoints: in join order. gateway_endpoint: the one giving the default route.
    """

    def __init__(self, controller, sid: str, container_id: str, node: str, default: bool) -> None:
        self.controller, self.id, self.container_id = controller, sid, container_id
        self.node, self.default = node, default
        self.key = f"/run/netns/{node}"  # libnetwork: /var/run/docker/netns/<id>
        self.endpoints: list = []
        self.gateway_endpoint = None
        self.priority: dict[str, int] = {}   # endpoint ID -> its JoinOptionPriority (epPriority)
        self._next_index: dict[str, int] = {}
        self.port_bindings: list[dict] = []  # published on the gateway endpoint: [{"Proto", "Port", "HostIP", "HostPort"}]
        self.deleted = self.deleting = False

    @property
    def kernel(self):
        return self.controller.kernel

    def _check_alive(self, what: str) -> None:
        if self.deleted:
            raise NoSuchObject(f"sandbox {self.id} not found", f"it was deleted; cannot {what} it")

    def _populate(self, ep) -> None:
        """``populateNetworkResources`` (+ the default gateway, external connectivity)."""
        info, kernel = ep.join_info, self.kernel
        names = info.get("InterfaceName") or {}
        if names.get("SrcName"):
            src, prefix = names["SrcName"], names.get("DstPrefix") or "eth"
            dst = src if self.default else f"{prefix}{self._next_index.get(prefix, 0)}"
            if not self.default:
                kernel.move_into(src, self.node, dst, mac=ep.mac)
            else:
                kernel.set_up(src)
            if ep.address:
                kernel.add_address(dst, ep.address, self.node)
            for route in info.get("StaticRoutes") or []:
                via = route.get("NextHop") if route.get("RouteType", 0) == 0 else None
                kernel.add_route(route["Destination"], via=via or None, dev=dst, sandbox=self.node)
            self._next_index[prefix] = self._next_index.get(prefix, 0) + 1
            ep.ifname = dst
        self.endpoints.append(ep)
        previous, best = self.gateway_endpoint, self.best_gateway()
        if best is not previous:  # sbJoin's moveExtConn: the new endpoint is the better gateway
            if previous is not None:
                self._unmake_gateway(previous)
            try:
                self._make_gateway(best)
            except BaseException:
                self.endpoints.remove(ep)
                if ep.ifname:
                    self._interface_out(ep)
                if previous is not None:  # libnetwork programs the old one again
                    self._make_gateway(previous)
                raise
        if ep.network.name != GATEWAY_NETWORK:
            self._update_default_gw()

    def best_gateway(self):
        """``getGatewayEndpoint``: of its endpoints sorted by ``Endpoint.Less``, the first with a
        gateway. Less puts the highest priority first, docker_gwbridge's endpoint last, internal
        networks after the others, endpoints with a gateway first, then orders by network *name*
        (moby v27.5.1 libnetwork/sandbox.go and docker-v29.7.2 daemon/libnetwork/sandbox.go): a
        container on ``zeta`` that is connected to ``alpha`` gets its default route, and its
        published ports, from ``alpha``, unless ``zeta``'s priority is higher."""
        candidates = [ep for ep in self.endpoints if ep.network.type not in ("null", "host")
                      and ep.join_info.get("Gateway") and not ep.network.internal]
        return min(candidates, key=lambda ep: (-self.priority.get(ep.id, 0), ep is self.gateway_network_endpoint(),
                                               ep.network.name), default=None)

    def _make_gateway(self, ep) -> None:
        """The default route through ``ep``, and the sandbox's ports published by its driver."""
        ports = self.port_bindings
        self.kernel.add_route("default", via=ep.join_info["Gateway"], sandbox=self.node)
        self.gateway_endpoint = ep
        try:
            ep.network.driver.program_external_connectivity(
                {"NetworkID": ep.network.id, "EndpointID": ep.id, "Options": {PORT_MAP: list(ports)} if ports else {}})
        except BaseException as exc:
            self.gateway_endpoint = None
            self.kernel.remove_route("default", via=ep.join_info["Gateway"], sandbox=self.node)
            if hasattr(exc, "libnetwork"):
                raise DriverFailure(f"driver failed programming external connectivity on endpoint {ep.name} "
                                    f"({ep.id}): {exc.libnetwork}", exc.fix) from None
            raise

    def _unmake_gateway(self, ep) -> None:
        """Undo :meth:`_make_gateway`: its driver revokes the published ports, the default route goes."""
        ep.network.driver.revoke_external_connectivity({"NetworkID": ep.network.id, "EndpointID": ep.id})
        self.kernel.remove_route("default", via=ep.join_info["Gateway"], sandbox=self.node)
        self.gateway_endpoint = None

    def _interface_out(self, ep) -> None:
        names = ep.join_info.get("InterfaceName") or {}
        if not self.default:
            self.kernel.move_out(ep.ifname, self.node, names["SrcName"])
        ep.ifname = ""

    def _leave(self, ep) -> None:
        """``sbLeave``: revoke, driver Leave, interface out, another endpoint's gateway in."""
        net = ep.network
        was_gateway = self.gateway_endpoint is ep
        if was_gateway:
            self._unmake_gateway(ep)
        net.driver.leave({"NetworkID": net.id, "EndpointID": ep.id})  # libnetwork goes on even if it fails
        if ep.ifname:
            self._interface_out(ep)
        self.endpoints.remove(ep)
        self.priority.pop(ep.id, None)
        ep.sandbox, ep.join_info = None, {}
        if was_gateway:
            successor = self.best_gateway()
            if successor is not None:
                self._make_gateway(successor)
        if net.name != GATEWAY_NETWORK and not self.deleting:
            self._update_default_gw()

    # --- the default gateway of sandboxes without one (libnetwork default_gateway.go) -------
    def gateway_network_endpoint(self):
        """Its endpoint on docker_gwbridge (``gateway_<container id[:12]>``), if any."""
        return next((ep for ep in self.endpoints if ep.network.name == GATEWAY_NETWORK
                     and ep.name.startswith("gateway_")), None)

    def needs_default_gw(self) -> bool:
        """``needDefaultGW``: an endpoint that wants a way out (not internal, not host/null) but no
        endpoint with a gateway or a default route (an overlay one: Join gives no gateway)."""
        need = False
        for ep in self.endpoints:
            if ep is self.gateway_network_endpoint() or ep.network.type in ("null", "host") or ep.network.internal:
                continue
            if ep.join_info.get("DisableGatewayService"):
                continue
            if ep.join_info.get("Gateway") or any(r.get("Destination") == "0.0.0.0/0"
                                                  for r in ep.join_info.get("StaticRoutes") or []):
                return False
            need = True
        return need

    def _update_default_gw(self) -> None:
        """setupDefaultGW when needed and missing, clearDefaultGW when no longer needed."""
        gw_ep = self.gateway_network_endpoint()
        if self.needs_default_gw() and gw_ep is None:
            network = self.controller.default_gw_network()
            ep = network.create_endpoint(f"gateway_{self.container_id[:12]}", seed=self.container_id)
            try:
                ep.join(self)
            except BaseException:
                ep.delete()
                raise
        elif gw_ep is not None and not self.needs_default_gw():
            gw_ep.leave(self)
            gw_ep.delete()

    def delete(self, *, remove_node: bool = True) -> None:
        """``sandbox.Delete``: leave and delete every endpoint, then the namespace."""
        self._check_alive("delete")
        self.deleting = True
        for ep in list(reversed(self.endpoints)):
            ep.leave(self)
            ep.delete()
        if not self.default and remove_node:
            self.controller.lab.remove_node(self.node)
        self.deleted = True
        del self.controller.sandboxes[self.container_id]

    def __repr__(self) -> str:
        return f"<Sandbox {self.container_id[:12]} ({self.key}): {', '.join(e.name for e in self.endpoints) or 'no endpoints'}>"
