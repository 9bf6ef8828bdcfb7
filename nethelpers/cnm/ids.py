"""Identifiers, derived names and timestamps, made deterministic where Docker's are random.

libnetwork and dockerd draw IDs, ``veth`` names and MAC addresses at random (or from the
address); the lab derives them from what was asked, so a notebook run twice prints the
same IDs. Every layer (the CNM core, its drivers, the Docker engine) uses these.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress


def make_id(*parts: object) -> str:
    """A 64-hex-digit ID, like Docker's, derived from ``parts``."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def short(full_id: str) -> str:
    """The 12-digit form Docker prints in tables and uses as a container's hostname."""
    return full_id[:12]


def veth_name(endpoint_id: str, side: str = "host") -> str:
    """``veth`` + 7 hex digits: one end of an endpoint's veth pair (``side`` "host" stays on
    the bridge, "sandbox" is the end the daemon moves into the container and renames)."""
    seed = endpoint_id if side == "host" else f"{endpoint_id}/{side}"
    return "veth" + hashlib.sha256(seed.encode()).hexdigest()[:7]


def mac_from_ip(ip: str) -> str:
    """libnetwork's ``GenerateMACFromIP`` (Docker 27's container MAC): 02:42 then the four
    IPv4 bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(str(ip)).packed)


def networkdb_name(host: str) -> str:
    """The 12-hex-digit name NetworkDB gives a node (random in Docker, derived here)."""
    return hashlib.sha256(f"networkdb/{host}".encode()).hexdigest()[:12]


def now() -> str:
    """A timestamp as Docker's API prints them (Created, FinishedAt)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def random_mac(seed: str) -> str:
    """libnetwork's ``GenerateRandomMAC`` (Docker 28+'s container MAC): six random bytes, the
    multicast bit cleared and the locally-administered bit set; drawn here from ``seed`` (an
    endpoint ID), so that a notebook run twice prints the same MACs."""
    raw = bytearray(hashlib.sha256(f"mac/{seed}".encode()).digest()[:6])
    raw[0] = (raw[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in raw)
