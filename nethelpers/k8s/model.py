"""What kube-proxy reads from the API server: a Service's ports and, per port, its endpoints.

Only the fields the proxy's rules depend on (``pkg/proxy/serviceport.go``, ``endpoint.go``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .names import service_port_name


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    node: str = ""           # the node the pod runs on (for the Local traffic policies)
    ready: bool = True

    def __str__(self) -> str:  # BaseEndpointInfo.String()
        return f"{self.ip}:{self.port}"


@dataclass
class ServicePort:
    """One port of one Service, as kube-proxy handles it (``ServicePortInfo``)."""
    namespace: str
    name: str
    port_name: str
    protocol: str                      # "TCP", "UDP", "SCTP"
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: list[str] = field(default_factory=list)
    load_balancer_ips: list[str] = field(default_factory=list)
    source_ranges: list[str] = field(default_factory=list)
    external_policy_local: bool = False   # externalTrafficPolicy: Local
    internal_policy_local: bool = False   # internalTrafficPolicy: Local
    affinity_seconds: int = 0             # sessionAffinity: ClientIP (its timeout), 0: None
    health_check_node_port: int = 0
    endpoints: list[Endpoint] = field(default_factory=list)

    @property
    def port_name_string(self) -> str:
        return service_port_name(self.namespace, self.name, self.port_name)

    @property
    def proto(self) -> str:
        return self.protocol.lower()

    def externally_accessible(self) -> bool:
        """``ExternallyAccessible``: a NodePort, an external IP or a load balancer IP."""
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    def plan(self, node: str) -> "Plan":
        """Which endpoints serve which traffic here, and which chains that needs (``CategorizeEndpoints``
        in ``pkg/proxy/topology.go``, shared by both proxy modes)."""
        ready = sorted((e for e in self.endpoints if e.ready), key=lambda e: (tuple(map(int, e.ip.split("."))), e.port))
        local = [e for e in ready if e.node == node]
        accessible = self.externally_accessible()
        return Plan(ready=ready, local=local,
                    internal=local if self.internal_policy_local else ready,
                    external=local if self.external_policy_local else ready,
                    uses_cluster=bool(ready) and (not self.internal_policy_local
                                                  or (not self.external_policy_local and accessible)),
                    uses_local=bool(local) and (self.internal_policy_local
                                                or (self.external_policy_local and accessible)),
                    uses_external=bool(ready) and accessible,
                    uses_firewall=bool(ready) and bool(self.load_balancer_ips) and bool(self.source_ranges))


@dataclass
class Plan:
    """A service port's endpoints as one node's kube-proxy sorts them (``ServicePort.plan``)."""
    ready: list[Endpoint]          # every ready endpoint, in address order: the Cluster policy's
    local: list[Endpoint]          # those on this node: the Local policy's
    internal: list[Endpoint]       # for traffic from pods and nodes (internalTrafficPolicy)
    external: list[Endpoint]       # for traffic from outside (externalTrafficPolicy)
    uses_cluster: bool             # KUBE-SVC- / service-... is needed
    uses_local: bool               # KUBE-SVL- / local-...
    uses_external: bool            # KUBE-EXT- / external-...
    uses_firewall: bool            # KUBE-FW- / firewall-...

