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
