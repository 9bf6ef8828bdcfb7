"""A Docker host's overlay agent: the control plane that feeds ``vxlan0``.

One agent runs in each Docker host node that is in a cluster
(``python -m nethelpers.programs.overlay_agent``). It does what libnetwork's overlay driver
and its cluster agent do in dockerd: it keeps the *peer database* — for every
endpoint on an overlay network, its IP, MAC and the host (VTEP) behind it — tells
the other hosts about the endpoints of its own host, learns theirs **over the
underlay**, and programs each remote endpoint into the network's sandbox as
dockerd does (``peerAddOp``)::

    ip neigh replace 10.0.1.4 lladdr 02:42:0a:00:01:04 dev vxlan0 nud permanent
    bridge fdb replace 02:42:0a:00:01:04 dev vxlan0 dst 198.51.100.12 self permanent

Two ways to hear about the other hosts, as Docker had them:

* **gossip** (Swarm, Docker 1.12+): UDP/TCP port 7946 of the host's LAN address.
  Table events of ``overlay_peer_table`` (and ``endpoint_table`` for names) go
  to every member; a heartbeat every 0.5 s; a member silent for 3 s has failed
  and its entries are deleted (NetworkDB over memberlist; here JSON instead of
  memberlist's binary protocol and protobuf, no indirect probes, no encryption).
* **kv** (Docker 1.9-1.11, ``--cluster-store``): the endpoints are keys of an
  etcd v2 store (``docker/network/v1.0/endpoint/<nid>/<eid>``) that every agent
  watches; each host keeps ``docker/nodes/<ip>:2376`` alive with a TTL. (Real
  1.11 took the FDB entries from Serf gossip between the hosts the store listed,
  and names from the store; the lab takes both from the store.)

The engine (``nethelpers/docker/cluster.py``, for the overlay driver ``nethelpers/cnm/drivers/overlay.py``) talks to its agent through a unix socket in the
sandbox (one JSON line per request, see ``sandbox/daemons.py``). The agent prints
what it learns and the commands it runs: ``docker_host.agent_log()`` shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

from ..sandbox.daemons import path_of
from ..cnm.ids import networkdb_name

GOSSIP_PORT = 7946
HEARTBEAT, FAILED_AFTER = 0.5, 3.0          # seconds (memberlist: probe 1 s, suspicion a few s)
NODE_TTL, NODE_REFRESH = 3, 1.0              # KV era: docker/nodes/<ip>:2376 (Docker: TTL 60 s, 20 s)
ENDPOINTS = "docker/network/v1.0/endpoint/"
NODES = "docker/nodes/"


@dataclass
class Peer:
    """One endpoint of an overlay network (libnetwork's PeerRecord, plus its name)."""
    nid: str
    eid: str
    ip: str          # with its prefix length, as Docker sends it: "10.0.1.4/24"
    mac: str
    vtep: str        # the LAN address of the host it lives on
    name: str = ""
    aliases: tuple = ()


class Agent:
    def __init__(self, host: str, address: str) -> None:
        self.host, self.address, self.name = host, address, networkdb_name(host)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.peers: dict[tuple[str, str], Peer] = {}     # (nid, eid) -> Peer, local and remote
        self.sandboxes: dict[str, str] = {}              # nid -> the node holding br0 + vxlan0
        self.network_nodes: dict[str, set] = {}          # nid -> LAN addresses of hosts that have it

    # --- output ---------------------------------------------------------------------
    def log(self, text: str) -> None:
        print(text, flush=True)

    # --- the peer database and the kernel ---------------------------------------------
    def peer_add(self, peer: Peer, source: str) -> None:
        with self.lock:
            old = self.peers.get((peer.nid, peer.eid))
            if old == peer:
                return
            self.peers[(peer.nid, peer.eid)] = peer
            if peer.vtep != self.address:
                self.log(f"peer add {peer.ip} {peer.mac} on {peer.vtep} ({source})")
                self._program(peer, add=True)
            self.changed.notify_all()

    def peer_delete(self, nid: str, eid: str, source: str) -> None:
        with self.lock:
            peer = self.peers.pop((nid, eid), None)
            if peer is None:
                return
            if peer.vtep != self.address:
                self.log(f"peer delete {peer.ip} {peer.mac} on {peer.vtep} ({source})")
                self._program(peer, add=False)
            self.changed.notify_all()

    def forget_host(self, vtep: str, why: str) -> None:
        """A host has failed or left: delete every entry it owned."""
        with self.lock:
            gone = [p for p in self.peers.values() if p.vtep == vtep]
            self.log(f"node {vtep} {why}: deleting its {len(gone)} entr{'y' if len(gone) == 1 else 'ies'}")
            for peer in gone:
                self.peer_delete(peer.nid, peer.eid, "its node is gone")
            for nodes in self.network_nodes.values():
                nodes.discard(vtep)

    def _program(self, peer: Peer, add: bool) -> None:
        """Docker's peerAddOp / peerDeleteOp, in the network's sandbox (if it exists here yet)."""
        sandbox = self.sandboxes.get(peer.nid)
        if sandbox is None:
            return  # kept in the peer database; written when the sandbox is made (initSandboxPeerDB)
        ip = peer.ip.split("/")[0]
        if add:
            commands = [f"ip neigh replace {ip} lladdr {peer.mac} dev vxlan0 nud permanent",
                        f"bridge fdb replace {peer.mac} dev vxlan0 dst {peer.vtep} self permanent"]
        else:
            commands = [f"bridge fdb del {peer.mac} dev vxlan0 dst {peer.vtep} self",
                        f"ip neigh del {ip} dev vxlan0"]
        for command in commands:
            words = command.split()
            result = subprocess.run([words[0], "-n", sandbox, *words[1:]], capture_output=True, text=True)
            self.log(f"  {command}" + (f"  -> {result.stderr.strip()}" if result.returncode else ""))

    # --- requests from the engine ------------------------------------------------------
    def handle(self, request: dict) -> dict:
        op = request.pop("op")
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            return {"error": f"the agent has no operation {op!r}"}
        return handler(**request) or {}

    def op_network_up(self, nid: str, sandbox: str) -> None:
        """The network's sandbox exists on this host now: write what we know into it."""
        with self.lock:
            self.sandboxes[nid] = sandbox
            self.network_nodes.setdefault(nid, set()).add(self.address)
            for peer in sorted(self.peers.values(), key=lambda p: p.ip):
                if peer.nid == nid and peer.vtep != self.address:
                    self._program(peer, add=True)
        self.announce({"type": "netjoin", "nid": nid})

    def op_network_down(self, nid: str) -> None:
        with self.lock:
            self.sandboxes.pop(nid, None)
            self.network_nodes.get(nid, set()).discard(self.address)
        self.announce({"type": "netleave", "nid": nid})

    def op_join(self, nid: str, eid: str, ip: str, mac: str, name: str, aliases: list) -> None:
        peer = Peer(nid, eid, ip, mac, self.address, name, tuple(aliases))
        self.peer_add(peer, "local")
        self.publish(peer)

    def op_leave(self, nid: str, eid: str) -> None:
        peer = self.peers.get((nid, eid))
        self.peer_delete(nid, eid, "local")
        if peer is not None:
            self.unpublish(peer)

    def op_table(self, nid: str) -> dict:
        with self.lock:
            entries = [asdict(p) for p in self.peers.values() if p.nid == nid]
            return {"entries": sorted(entries, key=lambda e: e["ip"]),
                    "nodes": sorted(self.network_nodes.get(nid, ()))}

    def op_wait(self, nid: str, present: bool, eid: str | None = None, ip: str | None = None,
                timeout: float = 5) -> dict:
        """Until the entry of endpoint ``eid`` (or of address ``ip``) is, or is no longer, known
        here — and so programmed."""
        def known() -> bool:
            if eid is not None:
                return (nid, eid) in self.peers
            return any(p.nid == nid and p.ip.split("/")[0] == ip for p in self.peers.values())

        deadline = time.monotonic() + timeout
        with self.lock:
            while known() != present:
                left = deadline - time.monotonic()
                if left <= 0:
                    return {"ok": False}
                self.changed.wait(left)
        return {"ok": True}

    # --- the transport: overridden by the gossip and KV agents -------------------------------
    def announce(self, message: dict) -> None:
        pass

    def publish(self, peer: Peer) -> None:
        pass

    def unpublish(self, peer: Peer) -> None:
        pass

    # --- serving -----------------------------------------------------------------------
    def serve(self) -> None:
        agent = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    answer = agent.handle(json.loads(self.rfile.readline()))
                except Exception as exc:  # a bug: say it to the engine, keep serving
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
                self.wfile.write(json.dumps(answer).encode() + b"\n")

        path = path_of(f"agent-{self.host}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        server = socketserver.ThreadingUnixStreamServer(path, Handler)
        server.daemon_threads = True
        self.log(f"agent of {self.host} ({self.address}) ready: {self.describe()}")
        server.serve_forever()

    def describe(self) -> str:
        return ""


class GossipAgent(Agent):
    """Swarm era: the hosts tell each other, UDP/TCP 7946 (NetworkDB)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(host, address)
        self.members: dict[str, dict] = {}   # LAN address -> {"host", "name", "seen", "state"}
        self.ltime = 0
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((address, GOSSIP_PORT))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((address, GOSSIP_PORT))
        self.tcp.listen()
        for loop in (self._receive, self._accept, self._heartbeat):
            threading.Thread(target=loop, daemon=True).start()

    def describe(self) -> str:
        return f"gossip on udp+tcp {self.address}:{GOSSIP_PORT} as node {self.name}"

    # sending
    def _send(self, address: str, message: dict) -> None:
        try:
            self.udp.sendto(json.dumps(dict(message, node=self.name, host=self.host,
                                             ip=self.address)).encode(), (address, GOSSIP_PORT))
        except OSError:
            pass  # no route (our cable is out): the heartbeat's silence tells the others

    def announce(self, message: dict) -> None:
        with self.lock:
            self.ltime += 1
            message = dict(message, ltime=self.ltime)
            targets = [a for a, m in self.members.items() if m["state"] == "alive"]
        for address in targets:
            self._send(address, message)

    def _event(self, kind: str, peer: Peer) -> list[dict]:
        return [{"type": "event", "event": kind, "nid": peer.nid, "table": "overlay_peer_table",
                 "key": peer.eid, "value": {"endpoint_ip": peer.ip, "endpoint_mac": peer.mac,
                                            "tunnel_endpoint_ip": peer.vtep}},
                {"type": "event", "event": kind, "nid": peer.nid, "table": "endpoint_table",
                 "key": peer.eid, "value": {"name": peer.name, "endpoint_ip": peer.ip.split("/")[0],
                                            "aliases": list(peer.aliases)}}]

    def publish(self, peer: Peer) -> None:
        for message in self._event("create", peer):
            self.announce(message)

    def unpublish(self, peer: Peer) -> None:
        for message in self._event("delete", peer):
            self.announce(message)

    # receiving
    def _receive(self) -> None:
        partial: dict[tuple, dict] = {}  # (nid, eid) -> the half of an endpoint seen so far
        while True:
            data, _ = self.udp.recvfrom(65536)
            message = json.loads(data)
            sender = message["ip"]
            self._seen(message)
            kind = message["type"]
            if kind == "event":
                key = (message["nid"], message["key"])
                if message["event"] == "delete":
                    partial.pop(key, None)
                    if message["table"] == "overlay_peer_table":
                        self.peer_delete(*key, f"gossip from {message['host']}")
                    continue
                half = partial.setdefault(key, {})
                half[message["table"]] = message["value"]
                if len(half) == 2:
                    del partial[key]
                    record, names = half["overlay_peer_table"], half["endpoint_table"]
                    self.peer_add(Peer(*key, record["endpoint_ip"], record["endpoint_mac"],
                                       record["tunnel_endpoint_ip"], names["name"], tuple(names["aliases"])),
                                  f"gossip from {message['host']}")
            elif kind == "netjoin":
                with self.lock:
                    self.network_nodes.setdefault(message["nid"], set()).add(sender)
            elif kind == "netleave":
                with self.lock:
                    self.network_nodes.get(message["nid"], set()).discard(sender)
            elif kind == "member":
                self._seen(message["member"])
            elif kind == "leave":
                with self.lock:
                    self.members[sender]["state"] = "left"
                self.forget_host(sender, "left the cluster")
            elif kind == "sync":  # a member that thought us dead wants our endpoints again
                self._resend_to(sender)

    def _seen(self, member: dict) -> None:
        address = member["ip"]
        if address == self.address:
            return
        with self.lock:
            known = self.members.get(address)
            if known is None:
                self.members[address] = {"host": member["host"], "name": member["node"],
                                         "seen": time.monotonic(), "state": "alive"}
                self.log(f"member {member['host']} ({address}) joined the gossip")
                return
            known["seen"] = time.monotonic()
            back = known["state"] == "failed"
            if back:
                known["state"] = "alive"
                self.log(f"node {address} is alive again")
        if back:
            self._send(address, {"type": "sync"})
            self._resend_to(address)

    def _resend_to(self, address: str) -> None:
        with self.lock:
            mine = [p for p in self.peers.values() if p.vtep == self.address]
            nets = [nid for nid in self.sandboxes]
        for nid in nets:
            self._send(address, {"type": "netjoin", "nid": nid})
        for peer in mine:
            for message in self._event("create", peer):
                self._send(address, message)

    def _heartbeat(self) -> None:
        while True:
            time.sleep(HEARTBEAT)
            with self.lock:
                alive = [a for a, m in self.members.items() if m["state"] == "alive"]
                failed = [a for a in alive if time.monotonic() - self.members[a]["seen"] > FAILED_AFTER]
                for address in failed:
                    self.members[address]["state"] = "failed"
                # failed members are still sent heartbeats (as memberlist still probes dead nodes now
                # and then): when the cable is back, each side hears the other and they resynchronise
                targets = [a for a, m in self.members.items() if m["state"] != "left"]
            for address in failed:
                self.forget_host(address, f"failed (no heartbeat for {FAILED_AFTER:g} s)")
            for address in targets:
                self._send(address, {"type": "alive"})

    # joining (TCP: full state, as memberlist's push/pull)
    def _accept(self) -> None:
        while True:
            conn, _ = self.tcp.accept()
            with conn:
                request = json.loads(conn.makefile().readline())
                with self.lock:
                    others = [{"ip": a, "host": m["host"], "node": m["name"]}
                              for a, m in self.members.items() if m["state"] == "alive"]
                    entries = [asdict(p) for p in self.peers.values()]
                    networks = {nid: sorted(nodes) for nid, nodes in self.network_nodes.items()}
                conn.sendall(json.dumps({"members": others, "entries": entries, "networks": networks,
                                         "host": self.host, "node": self.name, "ip": self.address}
                                        ).encode() + b"\n")
            self._seen(request)
            for address in [o["ip"] for o in others]:  # tell the others about the newcomer
                self._send(address, {"type": "member", "member": request})

    def op_join_cluster(self, remote: str) -> dict:
        with socket.create_connection((remote, GOSSIP_PORT), timeout=3) as conn:
            conn.sendall(json.dumps({"host": self.host, "node": self.name, "ip": self.address}).encode() + b"\n")
            state = json.loads(conn.makefile().readline())
        self._seen(state)
        for member in state["members"]:
            self._seen(member)
        with self.lock:
            for nid, nodes in state["networks"].items():
                self.network_nodes.setdefault(nid, set()).update(nodes)
        for entry in state["entries"]:
            self.peer_add(Peer(**{**entry, "aliases": tuple(entry["aliases"])}), f"push/pull from {state['host']}")
        return {"members": len(state["members"]) + 1}

    def op_alive(self) -> dict:
        """The addresses of the other hosts this agent believes alive."""
        with self.lock:
            return {"alive": sorted(a for a, m in self.members.items() if m["state"] == "alive")}

    def op_leave_cluster(self) -> None:
        self.announce({"type": "leave"})
        with self.lock:
            self.members.clear()

    def op_members(self) -> dict:
        with self.lock:
            members = [{"ip": a, **{k: m[k] for k in ("host", "name", "state")}} for a, m in self.members.items()]
        return {"members": [{"ip": self.address, "host": self.host, "name": self.name, "state": "alive"}]
                + sorted(members, key=lambda m: m["ip"])}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nethelpers.programs.overlay_agent", description=__doc__.split("\n")[0])
    parser.add_argument("--host", required=True, help="the Docker host's node name")
    parser.add_argument("--advertise", required=True, help="its LAN address")
    parser.add_argument("--cluster-store", help="etcd://IP:PORT (the KV era); gossip without it")
    args = parser.parse_args(argv)
    if args.cluster_store:
        agent = KVAgent(args.host, args.advertise, "http://" + args.cluster_store.split("://", 1)[1])
    else:
        agent = GossipAgent(args.host, args.advertise)
    agent.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
