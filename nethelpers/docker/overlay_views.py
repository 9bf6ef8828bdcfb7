"""Looking inside a Docker host's overlay networks, for lessons and tests: the sandbox
namespace of a network (``netns_of``, ``nsenter``), its FDB as it changes (``watch_fdb``), the
agent's table and log, the cluster store's keys.

A mixin of :class:`~nethelpers.docker.daemon.DockerHost` (through :class:`~.cluster.Cluster`).
"""

from __future__ import annotations

import time

from .errors import DockerError
from .naming import networkdb_name

MARKER_MAC, MARKER_VTEP = "02:00:5e:00:53:ff", "192.0.2.1"  # documentation MAC (RFC 7042) and address


class OverlayViews:
    """The looking-inside side of :class:`DockerHost` (a mixin)."""

    def agent_log(self) -> str:
        """What this host's overlay agent has printed: the entries it learnt and the commands it ran."""
        if self.agent is None:
            raise DockerError(f"{self.name} runs no overlay agent: it is in no swarm and has no --cluster-store")
        return self.agent.output

    def store_keys(self, prefix: str = "docker") -> str:
        """What the cluster store holds under ``prefix``, one ``key = value`` line each (as the
        agent of this host reads it: ``GET /v2/keys/PREFIX?recursive=true``)."""
        if not self.cluster_store:
            raise DockerError(f"{self.name} has no --cluster-store (it is a Docker 1.12+ host)")
        items = self._ask("kv_get", prefix=prefix)["items"]
        return "".join(f"{key} = {value}\n" for key, value in sorted(items.items()))

    def netns_of(self, network: str) -> str:
        """The name Docker gives the network's sandbox namespace here: ``1-<id[:10]>``
        (under /var/run/docker/netns/; in the lab, the node ``<host>.1-<id[:10]>``)."""
        net = self.network(network)
        if net.type != "overlay" or self.controller.drivers["overlay"].sandbox_of(net.id) is None:
            raise DockerError(f"{self.name} has no sandbox for {net.name}: Docker makes one for an overlay "
                              f"network when the first container on this host joins it")
        return self.controller.drivers["overlay"].sandbox_of(net.id).split(".", 1)[1]

    def nsenter(self, netns: str, command: str):
        """``nsenter --net=/var/run/docker/netns/NETNS COMMAND`` on this host: a command in an
        overlay's sandbox (``netns`` as :meth:`netns_of` gives it)."""
        node = f"{self.name}.{netns}"
        if node not in {n.name for n in self.lab.nodes()}:
            raise DockerError(f"{self.name} has no namespace /var/run/docker/netns/{netns}; "
                              f"host.netns_of('NETWORK') names the one of an overlay network")
        return self.lab.node(node).run(command)

    def watch_fdb(self, network: str) -> "FdbWatch":
        """``bridge monitor fdb`` in this host's sandbox of ``network``, started and known to be
        listening (a marker entry is written and seen first); ``.lines(n)`` then returns the next n
        changes as it prints them."""
        node = self.lab.node(f"{self.name}.{self.netns_of(network)}")
        monitor = node.start("bridge monitor fdb")
        marker = f"{MARKER_MAC} dev vxlan0 dst {MARKER_VTEP} self"

        def marker_lines() -> list[str]:
            return [line for line in monitor.output.splitlines() if MARKER_MAC in line]

        deadline = time.monotonic() + 10
        while not any(line.startswith(MARKER_MAC) for line in marker_lines()):
            # the monitor has no "ready" line: make the marker entry appear until it reports one
            if time.monotonic() > deadline:
                monitor.stop()
                raise DockerError(f"bridge monitor fdb in {node.name} reported nothing for 10 s")
            node.run(f"bridge fdb del {marker}")  # (absent the first time: fine)
            node.run(f"bridge fdb replace {marker} permanent", check=True)
            time.sleep(0.05)
        node.run(f"bridge fdb del {marker}", check=True)
        while not marker_lines()[-1].startswith("Deleted") and time.monotonic() < deadline:
            time.sleep(0.02)
        return FdbWatch(monitor)

    def wait_for_entry(self, network: str, ip: str, present: bool = True, timeout: float = 10) -> float:
        """Wait until this host's agent has (or no longer has) an entry for ``ip`` on ``network``
        — and so has written (or deleted) its FDB and neighbour entries. Returns the seconds waited."""
        net = self.network(network)
        start = time.monotonic()
        # the agent answers when its table changes (no polling); the socket waits a little longer than it
        if not self.lab.ask_daemon(f"agent-{self.name}", {"op": "wait", "nid": net.id, "ip": ip,
                                                           "present": present, "timeout": timeout},
                                   timeout=timeout + 5)["ok"]:
            raise DockerError(f"after {timeout} s the agent of {self.name} still "
                              f"{'has no' if present else 'has an'} entry for {ip} on {net.name}")
        return time.monotonic() - start

    def overlay_names(self, net) -> list[tuple[str, list[str], str]]:
        """(name, aliases, IP) of every endpoint of ``net`` this host's agent knows, local or remote."""
        entries = self._ask("table", nid=net.id)["entries"]
        return [(e["name"], e["aliases"], e["ip"].split("/")[0]) for e in entries]

    def overlay_peers(self, net) -> list[dict]:
        """``network inspect``'s Peers: the hosts that have the network, as NetworkDB names them."""
        if self.agent is None or net.labels.get("ingress"):
            return []
        nodes = self._ask("table", nid=net.id)["nodes"]
        by_address = {h.address: h.name for h in [self, *self._cluster_hosts()]}
        return [{"Name": networkdb_name(by_address.get(ip, ip)), "IP": ip} for ip in nodes]



class FdbWatch:
    """A running ``bridge monitor fdb`` (see :meth:`Overlays.watch_fdb`)."""

    def __init__(self, monitor) -> None:
        self.monitor = monitor

    def _changes(self) -> list[str]:
        return [line for line in self.monitor.output.splitlines() if line.strip() and MARKER_MAC not in line]

    def lines(self, count: int, timeout: float = 10) -> str:
        """Wait for ``count`` changes (bounded), stop the monitor, and return what it printed."""
        deadline = time.monotonic() + timeout
        while len(self._changes()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        self.monitor.stop()
        return "\n".join(self._changes()) + "\n"

