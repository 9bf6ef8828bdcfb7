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

The peer database and the engine's requests are in ``overlay_agent_base``, the kernel side in
``overlay_kernel``, the two transports in ``overlay_gossip_agent`` and ``overlay_kv_agent``;
this module is the command line.
"""

from __future__ import annotations

import argparse
import sys

from .overlay_gossip_agent import GossipAgent
from .overlay_kv_agent import KVAgent


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
