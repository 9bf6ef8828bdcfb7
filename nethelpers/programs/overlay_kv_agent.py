"""The overlay agent of Docker 1.9-1.11 (``--cluster-store``): endpoints are keys of an etcd v2
store that every host watches; each host keeps its node key alive with a TTL."""

from __future__ import annotations

import json
import threading
import time

from .overlay_agent_base import Agent, Peer

NODE_TTL, NODE_REFRESH = 3, 1.0              # KV era: docker/nodes/<ip>:2376 (Docker: TTL 60 s, 20 s)
ENDPOINTS = "docker/network/v1.0/endpoint/"
NODES = "docker/nodes/"


class KVAgent(Agent):
    """Docker 1.9-1.11: a key-value store every host registers in and watches."""

    def __init__(self, host: str, address: str, store: str) -> None:
        super().__init__(host, address)
        from ..docker.kv import KVClient

        self.store = store
        self.kv = KVClient(store)
        self.me = f"{address}:2376"
        self.kv.put(NODES + self.me, self.me, ttl=NODE_TTL)
        self.dead: set[str] = set()
        index = self._load()
        for loop, args in ((self._refresh, ()), (self._watch, (index,))):
            threading.Thread(target=loop, args=args, daemon=True).start()

    def describe(self) -> str:
        return f"cluster store {self.store}, advertising {self.me}"

    def _load(self) -> int:
        """Every endpoint the store holds now (and none it no longer holds); the index to watch from."""
        listed = self.kv.list(ENDPOINTS)
        for key, value in sorted(listed.items()):
            self._endpoint_set(key, value, "store")
        present = {tuple(key.strip("/").split("/")[-2:]) for key in listed}
        with self.lock:
            gone = [key for key, peer in self.peers.items() if peer.vtep != self.address and key not in present]
        for nid, eid in gone:
            self.peer_delete(nid, eid, "no longer in the store")
        return self.kv.index

    def _endpoint_set(self, key: str, value: str, source: str) -> None:
        record = json.loads(value)
        nid, eid = key.strip("/").split("/")[-2:]
        iface = record["ep_iface"]
        if record["locator"] in self.dead:
            return
        self.peer_add(Peer(nid, eid, iface["addr"], iface["mac"], record["locator"], record["name"],
                           tuple(record.get("aliases", ()))), source)

    def _refresh(self) -> None:
        while True:
            time.sleep(NODE_REFRESH)
            try:
                self.kv.put(NODES + self.me, self.me, ttl=NODE_TTL)
            except Exception:
                pass  # the store is out of reach (our cable is out): our key will expire

    def _watch(self, index: int) -> None:
        while True:
            try:
                event = self.kv.watch("docker", index + 1, timeout=30)
            except Exception as exc:
                if getattr(exc, "code", None) == 401:  # "event index cleared": fell too far behind, read it all
                    index = self._load()
                else:
                    time.sleep(0.2)  # the store is out of reach: try again
                continue
            if event is None:
                continue
            node = event["node"]
            index = node["modifiedIndex"]
            key = node["key"].strip("/")
            if key.startswith(ENDPOINTS):
                if event["action"] in ("set", "create", "update"):
                    self._endpoint_set(key, node["value"], "store watch")
                else:
                    nid, eid = key.split("/")[-2:]
                    self.peer_delete(nid, eid, f"store watch: {event['action']}")
            elif key.startswith(NODES):
                address = key[len(NODES):].split(":")[0]
                if address == self.address:
                    continue
                if event["action"] in ("expire", "delete"):
                    self.dead.add(address)
                    self.forget_host(address, f"expired from the store (TTL {NODE_TTL} s)")
                elif address in self.dead:
                    self.dead.discard(address)
                    self.log(f"node {address} is registered again")
                    self._load()

    def _key(self, peer: Peer) -> str:
        return f"{ENDPOINTS}{peer.nid}/{peer.eid}"

    def publish(self, peer: Peer) -> None:
        self.kv.put(self._key(peer), json.dumps({  # compact, as Go's encoding/json writes it
            "name": peer.name, "id": peer.eid, "network": peer.nid, "aliases": list(peer.aliases),
            "ep_iface": {"mac": peer.mac, "addr": peer.ip}, "locator": peer.vtep}, separators=(",", ":")))

    def unpublish(self, peer: Peer) -> None:
        self.kv.delete(self._key(peer))

    def op_alive(self) -> dict:
        """The other hosts registered in the store (their node keys have not expired)."""
        nodes = [key.strip("/").split("/")[-1].split(":")[0] for key in self.kv.list(NODES)]
        return {"alive": sorted(a for a in nodes if a != self.address)}

    # global networks live in the store too
    def op_kv_get(self, prefix: str) -> dict:
        return {"items": self.kv.list(prefix)}

    def op_kv_put(self, key: str, value: str, create: bool = False) -> dict:
        try:
            self.kv.put(key, value, **({"prev_exist": False} if create else {}))
        except Exception as exc:
            return {"error": str(exc)}
        return {}

    def op_kv_delete(self, key: str) -> None:
        self.kv.delete(key)
