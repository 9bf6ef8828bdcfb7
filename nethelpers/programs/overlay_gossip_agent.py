"""The overlay agent of the Swarm era: the hosts gossip over UDP/TCP 7946 (NetworkDB over memberlist).

Table events go to every member, a heartbeat every ``HEARTBEAT`` seconds, a member silent for
``FAILED_AFTER`` has failed; a joining host gets the full state over TCP (push/pull).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import asdict

from .overlay_agent_base import Agent, Peer

GOSSIP_PORT = 7946
HEARTBEAT, FAILED_AFTER = 0.5, 3.0          # seconds (memberlist: probe 1 s, suspicion a few s)


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
                              for a, m in self.members.items() if m["state"] == "alive" and a != request["ip"]]
                    entries = [asdict(p) for p in self.peers.values()]
                    networks = {nid: sorted(nodes) for nid, nodes in self.network_nodes.items()}
                # a member before the answer: once the joiner has it, this agent already lists it
                self._seen(request)
                conn.sendall(json.dumps({"members": others, "entries": entries, "networks": networks,
                                         "host": self.host, "node": self.name, "ip": self.address}
                                        ).encode() + b"\n")
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
