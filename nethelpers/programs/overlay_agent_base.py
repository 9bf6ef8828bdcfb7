"""The overlay agent's common part: the peer database, the engine's requests on it, and the unix
socket they come through. The transports (``overlay_gossip_agent``, ``overlay_kv_agent``) extend
:class:`Agent`."""

from __future__ import annotations

import json
import os
import socketserver
import threading
import time
from dataclasses import asdict, dataclass

from ..cnm.ids import networkdb_name
from ..sandbox.daemons import path_of
from .overlay_kernel import program_peer


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
    """The peer database of one host, and the requests of its engine (``op_*``)."""

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
        program_peer(sandbox, peer, add, self.log)

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
