"""A Docker-syntax engine for the lab: ``lab.docker("run -d --name c1 nginx")``.

No dockerd and no images: each Docker host is a lab node, each container a lab node inside
it, and the daemon is built on the lab's CNM core (:mod:`nethelpers.cnm`), as dockerd is on
libnetwork: ``docker network create`` makes a CNM network, whose driver
(:mod:`nethelpers.cnm.drivers`) builds it in the kernel.

    cli.py          the docker command line read as the CLI does (flags, usage messages)
    commands.py     what each docker command does: DockerHost methods, what the CLI prints
    daemon.py       DockerHost: the daemon's networks, connect / disconnect, embedded DNS views
    containers.py   containers: run (network modes), exec, stop, rm, ...
    compose.py      docker compose up -d / down: a project's networks and containers, named as Compose does
    daemon_config.py /etc/docker/daemon.json's bip and default-address-pools (DockerHost.restart_daemon)
    cluster.py      swarm init/join/leave, overlay networks as the cluster records them, the agent
    cluster_ipam.py overlay addresses, from the swarm manager or the cluster store
    overlay_views.py looking inside overlays (sandbox namespace, FDB, the agent's table)
    kv.py           the cluster store of Docker 1.9-20.10 (etcd v2 API client, starting one)
    swarm.py        the swarm manager's state (tokens, node IDs, VNIs, pools)
    etc_files.py    a container's /etc/hosts, /etc/hostname, /etc/resolv.conf
    ipam_config.py  --subnet/--gateway/--ip-range/--ip as the API checks them
    netinfo.py      predefined / user-defined networks, scope, attachable
    model.py        the container bookkeeping (Container, PortSpec)
    output.py       tables, inspect JSON, --format
    images.py       the images the lab knows; naming.py IDs and names; errors.py what it raises

The programs the engine starts in nodes (docker-proxy, the web server, the overlay agent, the
KV store) are in :mod:`nethelpers.programs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .cli import Output
from .daemon import DockerHost
from .errors import DaemonError, DockerError, UsageError
from .kv import start_cluster_store

DEFAULT_HOST = "docker-host"

__all__ = ["DockerHost", "DockerError", "DaemonError", "UsageError", "Output", "DEFAULT_HOST",
           "get_host", "docker", "start_cluster_store", "DockerEngine", "engine_of"]


@dataclass
class DockerEngine:
    """The Docker side of one lab: its Docker hosts, its swarm, its cluster store."""
    hosts: dict = field(default_factory=dict)   # name -> DockerHost
    swarm: object = None                        # the Swarm, once a host has run `swarm init`
    store_kind: str | None = None               # "etcd" or "built-in", once a cluster store runs

    def bridge_names(self) -> dict[tuple[str, str], str]:
        """(host, Linux bridge) -> the Docker network it is, for pictures: ("docker-host", "docker0") -> "bridge"."""
        from .netinfo import bridge

        return {(name, bridge(net)): net.name for name, host in sorted(self.hosts.items())
                for net in host.networks.values() if net.type == "bridge"}


def engine_of(lab) -> DockerEngine:
    """The lab's Docker engine state (created on first use, kept in ``lab.state``)."""
    state = lab.state
    if state.docker is None:
        state.docker = DockerEngine()
    return state.docker


def get_host(lab, name: str | None = None, *, version: str | None = None, firewall_backend: str | None = None,
             userland_proxy: bool | None = None, cluster_store: str | None = None,
             daemon_json: dict | None = None) -> DockerHost:
    """The Docker host ``name`` of ``lab``, created on first use (``version``: the Docker Engine
    it emulates, "29" or "27"; ``firewall_backend``: dockerd's ``--firewall-backend``;
    ``cluster_store``: dockerd's ``--cluster-store=etcd://IP:PORT`` of Docker 1.9-20.10, for
    overlay networks; ``daemon_json``: /etc/docker/daemon.json's ``bip`` and
    ``default-address-pools``)."""
    from ..errors import InvalidValue
    from .engines import engine

    name = name or DEFAULT_HOST
    with lab._lock:  # two threads' first docker commands start one host, not two
        hosts = engine_of(lab).hosts
        host = hosts.get(name)
        wanted = engine(version, firewall_backend) if (version or firewall_backend) else None
        if host is None:
            host = DockerHost(lab, name, engine=wanted or engine(),
                              userland_proxy=True if userland_proxy is None else userland_proxy,
                              cluster_store=cluster_store, daemon_json=daemon_json)
            hosts[name] = host
        elif wanted is not None and wanted != host.engine:
            raise InvalidValue(f"Docker host {name!r} already runs {host.engine}; the engine is fixed when "
                               f"the host starts: use a new lab, or another host name")
        elif cluster_store is not None and cluster_store != host.cluster_store:
            raise InvalidValue(f"Docker host {name!r} already runs with cluster_store={host.cluster_store!r}; "
                               f"the setting is fixed when the host starts: use a new lab, or another host name")
        elif daemon_json is not None:
            raise InvalidValue(f"Docker host {name!r} is running: daemon.json is read when dockerd starts, so "
                               f"restart it with the new file: lab.docker_host({name!r}).restart_daemon({daemon_json!r})")
        elif userland_proxy is not None and userland_proxy != host.userland_proxy:
            raise InvalidValue(f"Docker host {name!r} already runs with userland_proxy={host.userland_proxy}; "
                               f"the setting is fixed when the host starts (as dockerd's flag is): "
                               f"use a new lab, or another host name")
        return host


def docker(lab, command: str | list[str], host: str | None = None, input: str | None = None) -> Output:
    """Run one docker command line on a Docker host of ``lab`` (``input``: its standard input,
    which only ``docker compose -f -`` reads)."""
    from . import cli, commands, compose

    words = cli.split(command)
    flag_host, words = cli.parse_globals(words)
    if words[:1] == ["compose"]:
        with lab._lock:
            return compose.run(get_host(lab, host or flag_host), words[1:], input=input)
    parsed = cli.parse(words)  # a usage error is the CLI's: no Docker host is started for it
    with lab._lock:  # one docker command at a time per lab, whichever thread sends it
        return commands.execute(get_host(lab, host or flag_host), parsed)
