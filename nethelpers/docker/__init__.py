"""A Docker-syntax engine for the lab: ``lab.docker("run -d --name c1 nginx")``.

No dockerd and no images: each Docker host is a lab node, each container a lab
node inside it, and each docker command does to the kernel what Docker 27's
bridge driver does (see engine.py and firewall.py).

    cli.py       the docker command line (flags, messages) -> DockerHost methods
    engine.py    DockerHost: the daemon, containers and their network modes
    networks.py  network create / rm (bridge, macvlan)
    endpoints.py a container plugged into a network: veth/macvlan, ports, DNS views
    overlay.py   overlay networks across hosts, swarm init/join; agent.py the control plane
                 between hosts (gossip on 7946, or an etcd-style store: kvstore.py, kv.py)
    firewall.py  the iptables rules Docker installs, in Docker's order
    ipam.py      address pools and addresses
    model.py     the bookkeeping (Network, Endpoint, Container)
    output.py    tables, inspect JSON, --format
    proxy.py     docker-proxy (the userland proxy), run as a process on the host
    web.py       the web server of nginx/httpd images and of the internet server
"""

from __future__ import annotations

from .cli import Output
from .engine import DockerHost
from .errors import DaemonError, DockerError, UsageError
from .overlay import start_cluster_store

DEFAULT_HOST = "docker-host"

__all__ = ["DockerHost", "DockerError", "DaemonError", "UsageError", "Output", "DEFAULT_HOST",
           "get_host", "docker", "start_cluster_store"]


def get_host(lab, name: str | None = None, *, userland_proxy: bool | None = None,
             cluster_store: str | None = None) -> DockerHost:
    """The Docker host ``name`` of ``lab``, created on first use (``cluster_store``:
    dockerd's ``--cluster-store=etcd://IP:PORT`` of Docker 1.9-1.11, for overlay networks)."""
    from ..errors import InvalidValue

    name = name or DEFAULT_HOST
    with lab._lock:  # two threads' first docker commands start one host, not two
        hosts: dict[str, DockerHost] = lab.__dict__.setdefault("_docker_hosts", {})
        host = hosts.get(name)
        if host is None:
            host = DockerHost(lab, name, userland_proxy=True if userland_proxy is None else userland_proxy,
                              cluster_store=cluster_store)
            hosts[name] = host
        elif cluster_store is not None and cluster_store != host.cluster_store:
            raise InvalidValue(f"Docker host {name!r} already runs with cluster_store={host.cluster_store!r}; "
                               f"the setting is fixed when the host starts: use a new lab, or another host name")
        elif userland_proxy is not None and userland_proxy != host.userland_proxy:
            raise InvalidValue(f"Docker host {name!r} already runs with userland_proxy={host.userland_proxy}; "
                               f"the setting is fixed when the host starts (as dockerd's flag is): "
                               f"use a new lab, or another host name")
        return host


def docker(lab, command: str | list[str], host: str | None = None) -> Output:
    """Run one docker command line on a Docker host of ``lab``."""
    from . import cli

    words = cli.split(command)
    flag_host, words = cli.parse_globals(words)
    with lab._lock:  # one docker command at a time per lab, whichever thread sends it
        return cli.execute(get_host(lab, host or flag_host), words)
