"""What the Docker engine says about a CNM network beyond what libnetwork keeps: which are
predefined, which are user-defined (embedded DNS, ``--ip``, aliases), the scope it prints."""

from __future__ import annotations

PREDEFINED = ("bridge", "host", "none")


def is_default(net) -> bool:
    """docker0's network: no embedded DNS, no --ip, the legacy fields in inspect."""
    return net.name == "bridge"


def user_defined(net) -> bool:
    """Made with ``docker network create`` (or by the daemon for a cluster): embedded DNS, --ip, aliases."""
    return net.type not in ("null", "host") and not is_default(net)


def scope(net) -> str:
    """"local", "global" (a --cluster-store overlay) or "swarm" (a Swarm overlay)."""
    return net.labels.get("scope") or net.scope


def attachable(net) -> bool:
    return bool(net.labels.get("attachable"))


def ingress(net) -> bool:
    """Swarm's routing-mesh network (listed, not built)."""
    return bool(net.labels.get("ingress"))


def bridge(net) -> str:
    """The Linux bridge of a bridge network (``docker0``, ``br-<id>``...)."""
    return net.driver.bridge_name(net.id)
