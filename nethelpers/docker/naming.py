"""Docker's identifiers, made deterministic.

Real Docker draws container, network and endpoint IDs, ``veth`` names and
container names at random. The lab derives them from what was asked (host, kind,
name, sequence number), so a notebook run twice prints the same IDs.
"""

from __future__ import annotations

import datetime
import hashlib

ADJECTIVES = (
    "admiring", "brave", "clever", "dazzling", "eager", "festive", "gifted", "happy", "jolly",
    "keen", "loving", "modest", "nifty", "optimistic", "pensive", "quirky", "relaxed", "serene",
    "tender", "upbeat", "vibrant", "wizardly", "xenodochial", "youthful", "zealous",
)
SCIENTISTS = (
    "allen", "babbage", "cerf", "dijkstra", "engelbart", "feistel", "goldwasser", "hopper",
    "hamilton", "jennings", "kahn", "lamport", "lovelace", "metcalfe", "noether", "perlman",
    "postel", "ritchie", "shannon", "thompson", "turing", "wozniak", "yalow", "zhukovsky",
)


def make_id(*parts: object) -> str:
    """A 64-hex-digit ID, like Docker's, derived from ``parts``."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def short(full_id: str) -> str:
    """The 12-digit form Docker prints in tables and uses as a container's hostname."""
    return full_id[:12]


def veth_name(endpoint_id: str) -> str:
    """``veth`` + 7 hex digits: the host end of a container's veth pair."""
    return "veth" + hashlib.sha256(endpoint_id.encode()).hexdigest()[:7]


def random_name(seed: str, taken: set[str]) -> str:
    """A Docker-style ``adjective_surname`` name, the same for the same seed."""
    digest = hashlib.sha256(seed.encode()).digest()
    for i in range(0, len(digest) - 1, 2):
        name = f"{ADJECTIVES[digest[i] % len(ADJECTIVES)]}_{SCIENTISTS[digest[i + 1] % len(SCIENTISTS)]}"
        if name not in taken:
            return name
    return f"{name}{len(taken)}"


def mac_for(ip: str) -> str:
    """Docker's classic container MAC: 02:42 then the four IPv4 bytes."""
    return "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))


def now() -> str:
    """A timestamp as Docker's API prints them (Created, FinishedAt)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def networkdb_name(host: str) -> str:
    """The 12-hex-digit name NetworkDB gives a node (random in Docker, derived here)."""
    return hashlib.sha256(f"networkdb/{host}".encode()).hexdigest()[:12]
