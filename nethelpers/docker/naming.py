"""Docker's identifiers, made deterministic.

Real Docker draws container, network and endpoint IDs, ``veth`` names and
container names at random. The lab derives them from what was asked (host, kind,
name, sequence number), so a notebook run twice prints the same IDs.
"""

from __future__ import annotations

import hashlib

from ..cnm.ids import make_id, networkdb_name, now, short

__all__ = ["make_id", "short", "random_name", "now", "networkdb_name"]

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


def random_name(seed: str, taken: set[str]) -> str:
    """A Docker-style ``adjective_surname`` name, the same for the same seed."""
    digest = hashlib.sha256(seed.encode()).digest()
    for i in range(0, len(digest) - 1, 2):
        name = f"{ADJECTIVES[digest[i] % len(ADJECTIVES)]}_{SCIENTISTS[digest[i + 1] % len(SCIENTISTS)]}"
        if name not in taken:
            return name
    return f"{name}{len(taken)}"



