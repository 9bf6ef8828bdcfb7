"""Which Docker Engine a lab Docker host emulates: 29.x (today's) or 27.x, and its firewall backend.

The engines differ where a learner looks (moby's source at each tag is the oracle):

* the bridge driver's rules: 27 (``libnetwork/drivers/bridge/setup_ip_tables_linux.go`` at
  v27.5.1: DOCKER-ISOLATION-STAGE-1/2, the hairpin MASQUERADE per published port) and 29
  (``daemon/libnetwork/drivers/bridge/internal/iptabler`` at docker-v29.7.2: DOCKER-FORWARD,
  DOCKER-BRIDGE, DOCKER-CT, DOCKER-INTERNAL, raw-PREROUTING drops against direct access);
  29 also has the nftables backend (``internal/nftabler``, tables ``ip docker-bridges``);
* container MACs: 27 derives a bridge or macvlan endpoint's MAC from its IPv4 address
  (``netutils.GenerateMACFromIP``: 02:42 + the four bytes), 29 draws it at random
  (``netutils.GenerateRandomMAC``, bridge_linux.go and macvlan_endpoint.go).

``docker_host(version=...)`` takes "29", "29.7", "29.7.2", "27", "27.5" or "27.5.1".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidValue

FIREWALL_BACKENDS = ("iptables", "nftables")


@dataclass(frozen=True)
class Engine:
    """One Docker Engine release the lab emulates, and the firewall backend it runs with."""
    version: str                   # "29.7.2"
    api_version: str               # the API version the daemon speaks by default
    min_api_version: str           # the oldest API version it accepts
    random_macs: bool              # bridge/macvlan endpoints: GenerateRandomMAC (else GenerateMACFromIP)
    backends: tuple[str, ...]      # firewall backends this release has
    firewall_backend: str = "iptables"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def firewall(self) -> str:
        """The bridge driver's firewaller: "iptables-27", "iptables-29" or "nftables-29"."""
        return f"{self.firewall_backend}-{self.major}"

    def __str__(self) -> str:
        return f"Docker Engine {self.version} ({self.firewall_backend})"


# moby v27.5.1 api/common.go: DefaultVersion 1.47, MinSupportedAPIVersion 1.24; docker-v29.7.2
# daemon/config/config.go: MaxAPIVersion 1.55, defaultMinAPIVersion 1.40 (what /version reports)
RELEASES = {
    "29.7.2": Engine("29.7.2", api_version="1.55", min_api_version="1.40", random_macs=True,
                     backends=FIREWALL_BACKENDS),
    "27.5.1": Engine("27.5.1", api_version="1.47", min_api_version="1.24", random_macs=False,
                     backends=("iptables",)),
}
DEFAULT_VERSION = "29.7.2"


def engine(version: str | None = None, firewall_backend: str | None = None) -> Engine:
    """The release ``version`` names ("29", "29.7", "29.7.2", ...; None: the default), with
    ``firewall_backend`` (dockerd's ``--firewall-backend``; None: iptables)."""
    wanted = str(version or DEFAULT_VERSION)
    matches = [r for v, r in RELEASES.items() if v == wanted or v.startswith(wanted + ".")]
    if not matches:
        raise InvalidValue(f"the lab does not emulate Docker {wanted!r}: it emulates "
                           f"{', '.join(RELEASES)}; pass version='29' or version='27'")
    release = matches[0]
    backend = firewall_backend or "iptables"
    if backend not in release.backends:
        if backend in FIREWALL_BACKENDS:
            raise InvalidValue(f"Docker {release.version} has no {backend} firewall backend "
                               f"(dockerd --firewall-backend came in 29.0); use version='29', or iptables")
        raise InvalidValue(f"unknown firewall backend {backend!r}: dockerd's --firewall-backend takes "
                           f"{' or '.join(FIREWALL_BACKENDS)}")
    return Engine(**{**release.__dict__, "firewall_backend": backend})
