"""What the Docker engine keeps about a container (its networks are CNM objects:
:mod:`nethelpers.cnm`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..cnm.sandbox import GATEWAY_NETWORK


@dataclass
class PortSpec:
    """A parsed ``-p``: the container side, and where the host side binds."""
    container_port: int
    proto: str
    host_ip: str
    host_port: int | None

    def binding(self) -> dict:
        """As libnetwork's PortBinding (what the sandbox hands the bridge driver)."""
        return {"Proto": self.proto, "Port": self.container_port, "HostIP": self.host_ip,
                "HostPort": self.host_port}


@dataclass(frozen=True)
class PortMapping:
    """A published port as the driver reports it (``docker port``, ``docker ps``)."""
    proto: str
    host_ip: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class EndpointConfig:
    """A container's EndpointSettings on one network as it was given: ``--ip`` (IPAMConfig),
    ``--alias``/``--network-alias``, ``--gw-priority``."""
    ip: str | None = None
    aliases: tuple[str, ...] = ()
    gw_priority: int = 0


@dataclass
class Container:
    id: str
    name: str
    image: str
    tag: str
    shown_command: list[str]
    node: str
    created: str
    network_mode: str                # "bridge", a network name, "host", "none" or "container:<id>"
    detached: bool
    auto_remove: bool
    publish: list[PortSpec] = field(default_factory=list)
    sandbox: object = None                           # its CNM Sandbox while it has one
    process: object = None                           # BackgroundProcess of the main command
    exit_code: int | None = None
    finished: str | None = None                      # when it was first seen exited
    resolver: bool = False                           # embedded DNS sockets open in its namespace
    hostname: str | None = None                      # --hostname
    dns: list[str] = field(default_factory=list)     # --dns
    mac_address: str | None = None                   # --mac-address (its first endpoint)
    joined: str | None = None                        # container mode: the id of the namespace's owner
    # network name -> its EndpointConfig, in connect order: kept while it is stopped, as Docker
    # keeps NetworkSettings.Networks, for `docker start`
    endpoint_config: dict[str, EndpointConfig] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)    # what really runs (shown_command is what ps shows)
    default_command: bool = True                     # the image's own command (no COMMAND given)
    labels: dict = field(default_factory=dict)       # --label (compose's com.docker.compose.*)
    started: str | None = None                       # its last start (State.StartedAt)
    last_finished: str | None = None                 # the run before (FinishedAt while it runs again)
    earlier_logs: str = ""                           # what its earlier runs printed (docker logs)
    cap_add: list[str] = field(default_factory=list)  # --cap-add, as typed
    cap_drop: list[str] = field(default_factory=list)  # --cap-drop, as typed
    privileged: bool = False                         # --privileged
    env: list[str] = field(default_factory=list)     # -e NAME=VALUE (inspect's Config.Env)
    interactive: bool = False                        # -i (Config.OpenStdin)
    tty: bool = False                                # -t (Config.Tty)

    @property
    def endpoints(self) -> dict:
        """Network name -> its CNM Endpoint there, in connect order (not the docker_gwbridge
        endpoint libnetwork adds for the way out: inspect does not list it either)."""
        if self.sandbox is None:
            return {}
        return {ep.network.name: ep for ep in self.sandbox.endpoints
                if not (ep.network.name == GATEWAY_NETWORK and ep.name.startswith("gateway_"))}

    @property
    def wired(self) -> dict:
        """Its endpoints that gave it an interface (not --network none's or host's)."""
        return {name: ep for name, ep in self.endpoints.items() if ep.ifname}

    def port_mappings(self) -> list[PortMapping]:
        """What its gateway endpoint's driver publishes (libnetwork's PortMap in EndpointOperInfo)."""
        gateway = self.sandbox.gateway_endpoint if self.sandbox is not None else None
        if gateway is None:
            return []
        published = gateway.oper_info().get("Value", {}).get("com.docker.network.portmap") or []
        return [PortMapping(p["Proto"], p["HostIP"], p["HostPort"], p["Port"]) for p in published]

    @property
    def running(self) -> bool:
        """Is the main command still running? (Records its exit code when not.)"""
        if self.process is None:
            return False
        status = self.process._status()
        if status["running"]:
            return True
        self.ended(status["rc"])
        return False

    def ended(self, rc: int | None) -> None:
        """Its main command ended with status ``rc`` (as the kernel gives it): the exit code Docker
        shows, once (``docker stop`` may have set it)."""
        if self.exit_code is None:
            rc = rc if rc is not None else 0
            self.exit_code = 128 - rc if rc < 0 else rc  # killed by signal N: 128 + N, as a shell says

    def exited(self, exit_code: int, when: str) -> None:
        self.exit_code, self.finished = exit_code, when
