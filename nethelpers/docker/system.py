"""``docker version`` and ``docker info``: which Docker Engine a lab Docker host emulates.

What is printed, and in which order, is docker/cli's (``cli/command/system/version.go``:
``defaultVersionTemplate``, written through a tabwriter; ``info.go``: ``prettyPrintInfo``,
``prettyPrintServerInfo``, ``printSwarmInfo``, ``formatInfo``), at the tag of the engine
the host emulates (v29.7.2 or v27.5.1); the values are what moby's daemon reports
(``daemon/info.go``: ``SystemVersion``, ``SystemInfo``; ``daemon/info_unix.go``) at the
matching tag (docker-v29.7.2, v27.5.1).

Three kinds of values:

* the release's own (version, API versions, Go version, git commits, build dates): from
  the two repositories at the tag, in :data:`BUILDS`;
* the machine's (kernel, architecture, CPUs, memory, operating system): asked of the Docker
  host's node, as dockerd asks its machine (``uname``, ``sched_getaffinity`` via ``nproc``,
  ``/proc/meminfo``, ``/etc/os-release``); the containers' counts and the network drivers
  from the lab's own host;
* what the lab cannot have (an image store, a storage driver, cgroups, containerd, runc):
  fixed, in the block "fixed in the lab" below, each with why.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass

from .naming import make_id


# --- each release's build: docker/cli and moby at the tag -----------------------------------
@dataclass(frozen=True)
class Build:
    cli_commit: str      # git rev-parse --short=7 v29.7.2^{commit} in docker/cli (version.GitCommit)
    engine_commit: str   # the same in moby (dockerversion.GitCommit)
    go_version: str      # runtime.Version(): the Dockerfile's GO_VERSION at the tag (both repositories)
    cli_built: str       # version.BuildTime: scripts/build/.variables, date +"%Y-%m-%dT%H:%M:%SZ" (UTC)
    engine_built: str    # dockerversion.BuildTime: hack/make.sh, date -u --rfc-3339 ns | sed 's/ /T/'
    client_max_api: str  # the CLI's highest API version (29: client.MaxAPIVersion; 27: api.DefaultVersion)


# Both build dates are the tag's commit date (SOURCE_DATE_EPOCH), in the build scripts' formats:
# docker/cli v29.7.2 a7dcaa6 2026-08-05T19:34:15+02:00, moby docker-v29.7.2 6a43e3d 2026-08-05T20:24:27+02:00,
# docker/cli v27.5.1 9f9e405 2025-01-22T00:46:20+01:00, moby v27.5.1 4c9b3b0 2025-01-22T00:46:50+01:00.
BUILDS = {
    "29.7.2": Build("a7dcaa6", "6a43e3d", "go1.26.5", "2026-08-05T17:34:15Z",
                    "2026-08-05T18:24:27.000000000+00:00", client_max_api="1.55"),
    "27.5.1": Build("9f9e405", "4c9b3b0", "go1.22.11", "2025-01-21T23:46:20Z",
                    "2025-01-21T23:46:50.000000000+00:00", client_max_api="1.47"),
}

# --- fixed in the lab: what a lab Docker host has no real counterpart for -------------------
IMAGES = 0                      # the lab has no image store (images.py: an image name only picks a command)
STORAGE = {                     # no image store, so no storage driver: each release's default on ext4
    29: ("overlayfs", [["driver-type", "io.containerd.snapshotter.v1"]]),  # containerd store, 29's default
    27: ("overlay2", [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"],
                      ["Native Overlay Diff", "true"], ["userxattr", "false"]]),  # overlay2 Driver.Status()
}
CGROUP_DRIVER, CGROUP_VERSION = "systemd", "2"   # lab containers are namespaces without cgroups: a systemd,
#                                                  cgroup v2 machine's values (daemon_unix.go UsingSystemd)
NOT_AVAILABLE = "N/A"           # containerd, runc, docker-init: the lab runs none; dockerd's value when it
#                                 cannot ask them (info_unix.go fillPlatformInfo: ID = "N/A")
USERLAND_PROXY_PATH = "/usr/bin/docker-proxy"  # where Docker's packages install it (config_linux.go lookupBinPath)
PLATFORM_NAME = ""              # the product name docker-ce's packages set at build time; a build from the tag has none
CONTEXT = "default"             # the CLI's context: the lab has no others
SYSTEM_TIME = "0001-01-01T00:00:00Z"  # info's SystemTime (--format only): Go's zero time, so outputs don't change


# --- daemon defaults, the same on every machine ----------------------------------------------
DOCKER_ROOT_DIR = "/var/lib/docker"
LOG_DRIVERS = ["awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file", "local", "splunk",
               "syslog"]         # daemon/logdrivers_linux.go, sorted (logger.ListDrivers)
BUILTIN_NETWORK_DRIVERS = ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"]  # drivers_linux.go
RUNTIMES = ["io.containerd.runc.v2", "runc"]  # stockRuntimes(): a Go map, printed here in sorted order
CDI_SPEC_DIRS = {29: ["/etc/cdi", "/var/run/cdi"], 27: []}  # 29: on by default; 27: only with features.cdi
INSECURE_REGISTRIES = {29: ["::1/128", "127.0.0.0/8"], 27: ["127.0.0.0/8"]}  # registry config.go
GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
          "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class Machine:
    """What dockerd reads from its machine, read in the Docker host's node."""
    kernel: str
    machine: str         # uname -m
    cpus: int
    mem_total: int       # bytes
    os_name: str         # /etc/os-release PRETTY_NAME
    os_version: str      # VERSION_ID

    @property
    def goarch(self) -> str:
        return GOARCH.get(self.machine, self.machine)


def machine(host) -> Machine:
    """One command in the host's node: what ``uname``, ``sched_getaffinity`` and /proc say there."""
    script = ('uname -r; uname -m; nproc; awk \'/^MemTotal:/ {print $2}\' /proc/meminfo; '
              '. /etc/os-release 2>/dev/null; echo "$PRETTY_NAME"; echo "$VERSION_ID"')
    lines = host.node.run(["sh", "-c", script], timeout=10).stdout.split("\n")
    lines += [""] * (6 - len(lines))
    kernel, arch, cpus, mem_kb, os_name, os_version = (s.strip() for s in lines[:6])
    return Machine(kernel_version(kernel), arch, int(cpus or 0), int(mem_kb or 0) * 1024,
                   os_name or "Linux", os_version)


def kernel_version(release: str) -> str:
    """pkg/parsers/kernel: ParseRelease then String(), "%d.%d.%d%s" (a missing minor is 0)."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?(.*)", release)
    return f"{m[1]}.{m[2]}.{m[3] or 0}{m[4]}" if m else release


# --- shared formatting ------------------------------------------------------------------------
def ansic(rfc3339: str) -> str:
    """reformatDate: time.Parse(time.RFC3339Nano) then Format(time.ANSIC), "Mon Jan _2 15:04:05 2006"."""
    text = re.sub(r"\.(\d+)", lambda m: "." + m[1][:6], rfc3339).replace("Z", "+00:00")
    t = datetime.datetime.fromisoformat(text)
    return f"{t:%a %b} {t.day:2d} {t:%H:%M:%S %Y}"


def bytes_size(size: float) -> str:
    """go-units BytesSize: CustomSize("%.4g%s", size, 1024.0, binaryAbbrs)."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size, i = size / 1024, i + 1
    return f"{size:.4g}{units[i]}"


def tabwrite(text: str, minwidth: int = 20, padding: int = 1) -> str:
    """Go's text/tabwriter as version.go makes it (NewWriter(out, 20, 1, 1, ' ', 0)): a cell is
    text ending in a tab; each column of a block of adjacent lines is as wide as its widest
    cell plus padding, and at least minwidth."""
    rows = [line.split("\t") for line in text.split("\n")]
    widths = [[0] * (len(r) - 1) for r in rows]
    column = 0
    while any(len(r) - 1 > column for r in rows):
        i = 0
        while i < len(rows):
            if len(rows[i]) - 1 <= column:
                i += 1
                continue
            j = i
            while j < len(rows) and len(rows[j]) - 1 > column:
                j += 1
            width = max([minwidth] + [len(rows[k][column]) + padding for k in range(i, j)])
            for k in range(i, j):
                widths[k][column] = width
            i = j
        column += 1
    return "\n".join("".join(cell.ljust(w) for cell, w in zip(r, ws)) + r[-1] for r, ws in zip(rows, widths))


class GoStruct(dict):
    """A Go struct as the CLI's templates see it: keyed by JSON name (what ``{{json .}}``
    prints), but ``{{.X}}`` takes the Go field name (``.APIVersion``, not ``.ApiVersion``)."""
    GO_NAMES = {"APIVersion": "ApiVersion", "CPUCfsPeriod": "CpuCfsPeriod", "CPUCfsQuota": "CpuCfsQuota",
                "HTTPProxy": "HttpProxy", "HTTPSProxy": "HttpsProxy"}
    JSON_ONLY = set(GO_NAMES.values())

    def _key(self, key):
        return self.GO_NAMES.get(key, key)

    def __contains__(self, key) -> bool:
        return key not in self.JSON_ONLY and dict.__contains__(self, self._key(key))

    def __getitem__(self, key):
        if key in self.JSON_ONLY:
            raise KeyError(key)
        return dict.__getitem__(self, self._key(key))


# --- docker version ---------------------------------------------------------------------------
# cli/command/system/version.go: defaultVersionTemplate (the same text at v27.5.1 and v29.7.2),
# rendered here for the one shape the lab's data has: no platform name, no API downgrade.
CLIENT_TEMPLATE = ("Client:{platform}\n Version:\t{Version}\n API version:\t{ApiVersion}\n"
                   " Go version:\t{GoVersion}\n Git commit:\t{GitCommit}\n Built:\t{BuildTime}\n"
                   " OS/Arch:\t{Os}/{Arch}\n Context:\t{Context}")
ENGINE_TEMPLATE = ("\n\nServer:{platform}\n Engine:\n  Version:\t{Version}\n"
                   "  API version:\t{ApiVersion} (minimum version {MinAPIVersion})\n  Go version:\t{GoVersion}\n"
                   "  Git commit:\t{GitCommit}\n  Built:\t{BuildTime}\n  OS/Arch:\t{Os}/{Arch}\n"
                   "  Experimental:\t{Experimental}")


def client_version(engine, m: Machine, *, api: bool = True) -> GoStruct:
    """clientVersion (version.go newClientVersion): the lab is the CLI, at the engine's tag.
    ``api``: the negotiated and default API versions (27 sets both only with a dockerCLI;
    29 always sets DefaultAPIVersion = client.MaxAPIVersion)."""
    build = BUILDS[engine.version]
    out = GoStruct()
    if PLATFORM_NAME:
        out["Platform"] = {"Name": PLATFORM_NAME}
    out["Version"] = engine.version
    if api:  # CurrentVersion(): negotiated, the lower of the client's and the daemon's
        out["ApiVersion"] = min(build.client_max_api, engine.api_version, key=_api_key)
    if api or engine.major >= 29:
        out["DefaultAPIVersion"] = build.client_max_api
    out.update(GitCommit=build.cli_commit, GoVersion=build.go_version, Os="linux", Arch=m.goarch,
               BuildTime=ansic(build.cli_built), Context=CONTEXT)
    return out


def _api_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def server_version(engine, m: Machine) -> GoStruct:
    """The daemon's /version (daemon/info.go SystemVersion) as the CLI keeps it: 29's
    serverVersion (newServerVersion), 27's types.Version; the Engine component's BuildTime
    reformatted by the CLI, the deprecated top-level one as the daemon sent it. Only the Engine
    component: the lab runs no containerd, runc or docker-init to add theirs (fillPlatformVersion)."""
    build = BUILDS[engine.version]
    details = {"GitCommit": build.engine_commit, "ApiVersion": engine.api_version,
               "MinAPIVersion": engine.min_api_version, "GoVersion": build.go_version, "Os": "linux",
               "Arch": m.goarch, "BuildTime": ansic(build.engine_built), "KernelVersion": m.kernel,
               "Experimental": "false"}
    if engine.major >= 29:  # moduleVersion(): a build from the tag has no module version
        details.update(Module="github.com/moby/moby/v2", ModuleVersion="v2.0.0+unknown")
    engine_component = GoStruct(Name="Engine", Version=engine.version, Details=dict(sorted(details.items())))
    deprecated = {"GitCommit": build.engine_commit, "GoVersion": build.go_version, "KernelVersion": m.kernel,
                  "BuildTime": build.engine_built}  # Experimental false: omitempty
    if engine.major >= 29:
        return GoStruct(Platform=GoStruct(Name=PLATFORM_NAME), Version=engine.version, ApiVersion=engine.api_version,
                        MinAPIVersion=engine.min_api_version, Os="linux", Arch=m.goarch,
                        Components=[engine_component], **deprecated)
    return GoStruct(Platform=GoStruct(Name=PLATFORM_NAME), Components=[engine_component], Version=engine.version,
                    ApiVersion=engine.api_version, MinAPIVersion=engine.min_api_version,
                    GitCommit=build.engine_commit, GoVersion=build.go_version, Os="linux", Arch=m.goarch,
                    KernelVersion=m.kernel, BuildTime=build.engine_built)


def version_data(host) -> GoStruct:
    """versionInfo{Client, Server}: what ``docker version --format`` sees."""
    m = machine(host)
    return GoStruct(Client=client_version(host.engine, m), Server=server_version(host.engine, m))


def version_text(data: dict) -> str:
    """``docker version``: defaultVersionTemplate through the tabwriter, and its final newline."""
    client, server = data["Client"], data["Server"]
    text = CLIENT_TEMPLATE.format(platform=f" {client['Platform']['Name']}" if "Platform" in client else "",
                                  **client)
    engine = server["Components"][0]
    name = server["Platform"]["Name"]
    text += ENGINE_TEMPLATE.format(platform=f" {name}" if name else "", Version=engine["Version"],
                                   **engine["Details"])
    return tabwrite(text + "\n")


# --- docker info ------------------------------------------------------------------------------
def engine_id(host) -> str:
    """The daemon's ID (daemon/id.go: a UUID v4 kept in /var/lib/docker/engine-id), derived
    from the lab's host name so that it is the same on every run."""
    digits = list(make_id("engine-id", host.name)[:32])
    digits[12] = "4"
    digits[16] = "89ab"[int(digits[16], 16) % 4]
    h = "".join(digits)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def swarm_info(host) -> GoStruct:
    """swarm.Info as the daemon reports it; Raft, the CA and the dispatcher at swarmkit's
    defaults (manager.go defaultTaskHistoryRetentionLimit 5; cluster.go ElectionTick 10 x
    HeartbeatTick 1), which the lab's ``swarm init`` does not let one change."""
    from . import swarm as swarm_mod

    swarm = swarm_mod.of(host.lab)
    if swarm is None or not host.in_swarm:
        return GoStruct(NodeID="", NodeAddr="", LocalNodeState="inactive", ControlAvailable=False, Error="",
                        RemoteManagers=None)
    manager = host.name == swarm.manager
    info = GoStruct(NodeID=swarm.node_id(host.name), NodeAddr=host.address, LocalNodeState="active",
                    ControlAvailable=manager, Error="",
                    RemoteManagers=[{"NodeID": swarm.node_id(swarm.manager),
                                     "Addr": f"{swarm.address}:{swarm_mod.MANAGER_PORT}"}])
    if manager:
        info.update(Nodes=len(swarm.nodes), Managers=1)
        info["Cluster"] = GoStruct(ID=swarm.id, DefaultAddrPool=[str(swarm_mod.DEFAULT_POOL)], SubnetSize=24,
                                   DataPathPort=4789)
    return info


def info_data(host) -> GoStruct:
    """dockerInfo (info.go): system.Info from the daemon, ClientInfo from the CLI; the keys in
    the order of system.Info's fields at the tag, for ``{{json .}}``."""
    engine, m = host.engine, machine(host)
    major = 29 if engine.major >= 29 else 27
    host._reap()
    containers = list(host.containers.values())
    running = sum(1 for c in containers if c.running)
    driver, status = STORAGE[major]
    networks = sorted(set(BUILTIN_NETWORK_DRIVERS) | {n.type for n in host.listed_networks()})
    info = GoStruct(
        ID=engine_id(host), Containers=len(containers), ContainersRunning=running, ContainersPaused=0,
        ContainersStopped=len(containers) - running, Images=IMAGES, Driver=driver, DriverStatus=status,
        Plugins={"Volume": ["local"], "Network": networks, "Authorization": None, "Log": LOG_DRIVERS},
        MemoryLimit=True, SwapLimit=True)
    info.update(CpuCfsPeriod=True, CpuCfsQuota=True, CPUShares=True, CPUSet=True, PidsLimit=True,
                IPv4Forwarding=True)
    if major == 27:
        info.update(BridgeNfIptables=True, BridgeNfIp6tables=True)
    info.update(Debug=False, NFd=0, OomKillDisable=False, NGoroutines=0, SystemTime=SYSTEM_TIME,
                LoggingDriver="json-file", CgroupDriver=CGROUP_DRIVER, CgroupVersion=CGROUP_VERSION,
                NEventsListener=0, KernelVersion=m.kernel, OperatingSystem=m.os_name, OSVersion=m.os_version,
                OSType="linux", Architecture=m.machine, IndexServerAddress="https://index.docker.io/v1/",
                RegistryConfig={"InsecureRegistryCIDRs": INSECURE_REGISTRIES[major],
                                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True,
                                                               "Official": True}},
                                "Mirrors": None},
                NCPU=m.cpus, MemTotal=m.mem_total, GenericResources=None, DockerRootDir=DOCKER_ROOT_DIR,
                HttpProxy="", HttpsProxy="", NoProxy="", Name=host.name, Labels=[], ExperimentalBuild=False,
                ServerVersion=engine.version,
                Runtimes={name: {"path": "runc"} for name in RUNTIMES},
                DefaultRuntime="runc", Swarm=swarm_info(host), LiveRestoreEnabled=False, Isolation="",
                InitBinary="docker-init", ContainerdCommit=_commit(major), RuncCommit=_commit(major),
                InitCommit=_commit(major), SecurityOptions=None)
    if major >= 29:
        firewall = {"Driver": engine.firewall_backend}
        if host.userland_proxy:  # controller_linux.go FirewallBackend: "since Docker v29.5"
            firewall["Info"] = [["EnableUserlandProxy", "true"], ["UserlandProxyPath", USERLAND_PROXY_PATH]]
        info["FirewallBackend"] = firewall
    info["CDISpecDirs"] = CDI_SPEC_DIRS[major]
    # no Containerd: dockerd leaves it out when it has no containerd address (fillContainerdInfo)
    info["Warnings"] = None
    client = GoStruct(Debug=False, **client_version(engine, m, api=False), Plugins=[], Warnings=None)
    info["ClientInfo"] = client
    return info


def _commit(major: int) -> dict:
    """system.Commit: 27 still has Expected (dockerd set it equal to ID)."""
    return {"ID": NOT_AVAILABLE, **({"Expected": NOT_AVAILABLE} if major == 27 else {})}


def info_text(info: dict) -> str:
    """``docker info`` (prettyPrintInfo): the client part, then prettyPrintServerInfo."""
    client = info["ClientInfo"]
    out = ["Client:" + (f" {client['Platform']['Name']}" if "Platform" in client else ""),
           f" Version:    {client['Version']}", f" Context:    {client['Context']}",
           f" Debug Mode: {_go(client['Debug'])}", "", "Server:"]
    line = out.append
    line(f" Containers: {info['Containers']}")
    line(f"  Running: {info['ContainersRunning']}")
    line(f"  Paused: {info['ContainersPaused']}")
    line(f"  Stopped: {info['ContainersStopped']}")
    line(f" Images: {info['Images']}")
    line(f" Server Version: {info['ServerVersion']}")
    line(f" Storage Driver: {info['Driver']}")
    out.extend(f"  {k}: {v}" for k, v in info["DriverStatus"])
    line(f" Logging Driver: {info['LoggingDriver']}")
    line(f" Cgroup Driver: {info['CgroupDriver']}")
    line(f" Cgroup Version: {info['CgroupVersion']}")
    plugins = info["Plugins"]
    line(" Plugins:")
    line(f"  Volume: {' '.join(plugins['Volume'])}")
    line(f"  Network: {' '.join(plugins['Network'])}")
    line(f"  Log: {' '.join(plugins['Log'])}")
    if info["CDISpecDirs"]:
        line(" CDI spec directories:")
        out.extend(f"  {d}" for d in info["CDISpecDirs"])
    line(f" Swarm: {info['Swarm']['LocalNodeState']}")
    out.extend(swarm_lines(info["Swarm"]))
    line(f" Runtimes: {' '.join(info['Runtimes'])}")
    line(f" Default Runtime: {info['DefaultRuntime']}")
    line(f" Init Binary: {info['InitBinary']}")
    line(f" containerd version: {info['ContainerdCommit']['ID']}")
    line(f" runc version: {info['RuncCommit']['ID']}")
    line(f" init version: {info['InitCommit']['ID']}")
    line(f" Kernel Version: {info['KernelVersion']}")
    line(f" Operating System: {info['OperatingSystem']}")
    line(f" OSType: {info['OSType']}")
    line(f" Architecture: {info['Architecture']}")
    line(f" CPUs: {info['NCPU']}")
    line(f" Total Memory: {bytes_size(info['MemTotal'])}")
    line(f" Name: {info['Name']}")
    line(f" ID: {info['ID']}")
    line(f" Docker Root Dir: {info['DockerRootDir']}")
    line(f" Debug Mode: {_go(info['Debug'])}")
    line(f" Experimental: {_go(info['ExperimentalBuild'])}")
    line(" Insecure Registries:")
    out.extend(f"  {cidr}" for cidr in info["RegistryConfig"]["InsecureRegistryCIDRs"])
    line(f" Live Restore Enabled: {_go(info['LiveRestoreEnabled'])}")
    if "FirewallBackend" in info:
        line(f" Firewall Backend: {info['FirewallBackend']['Driver']}")
        out.extend(f"  {k}: {v}" for k, v in info["FirewallBackend"].get("Info", []))
    line("")
    return "\n".join(out) + "\n"


def swarm_lines(swarm: dict) -> list[str]:
    """printSwarmInfo: nothing for an inactive node."""
    if swarm["LocalNodeState"] in ("inactive", "locked"):
        return []
    out = [f"  NodeID: {swarm['NodeID']}", f"  Is Manager: {_go(swarm['ControlAvailable'])}"]
    cluster = swarm.get("Cluster")
    if cluster is not None and swarm["ControlAvailable"]:
        out += [f"  ClusterID: {cluster['ID']}", f"  Managers: {swarm['Managers']}", f"  Nodes: {swarm['Nodes']}",
                "  Default Address Pool: " + "".join(p + "  " for p in cluster["DefaultAddrPool"]),
                f"  SubnetSize: {cluster['SubnetSize']}", f"  Data Path Port: {cluster['DataPathPort']}",
                "  Orchestration:", "   Task History Retention Limit: 5", "  Raft:", "   Snapshot Interval: 10000",
                "   Number of Old Snapshots to Retain: 0", "   Heartbeat Tick: 1", "   Election Tick: 10",
                "  Dispatcher:", "   Heartbeat Period: 5 seconds", "  CA Configuration:",
                "   Expiry Duration: 3 months", "   Force Rotate: 0", "  Autolock Managers: false",
                "  Root Rotation In Progress: false"]
    out.append(f"  Node Address: {swarm['NodeAddr']}")
    if swarm["RemoteManagers"]:
        out.append("  Manager Addresses:")
        out += [f"   {addr}" for addr in sorted(p["Addr"] for p in swarm["RemoteManagers"])]
    return out


def _go(value: bool) -> str:
    return "true" if value else "false"


def as_json(value) -> str:
    """The templates' json function: encoding/json's compact form."""
    return json.dumps(value, separators=(",", ":"))


# --- the CLI's refusals ------------------------------------------------------------------------
SHORT = {"version": "Show the Docker version information", "info": "Display system-wide information"}


def usage_error(engine, command: str, problem: tuple) -> tuple[str, int]:
    """(message, exit status) for a bad flag or an argument given to ``docker version/info``:
    cli/cobra.go FlagErrorFunc (status 125) and cli/required.go NoArgs (status 1), at the tag.
    27.5.1: "... \\nSee 'docker version --help'."; 29.7.2: "...\\n\\nUsage:  ...\\n\\nRun '...' for more information"."""
    path, use = f"docker {command}", f"docker {command} [OPTIONS]"
    if problem[0] == "flag":
        if engine.major >= 29:
            return f"{problem[1]}\n\nUsage:  {use}\n\nRun '{path} --help' for more information", 125
        return f"{problem[1]}\nSee '{path} --help'.", 125
    if engine.major >= 29:
        return f"docker: '{path}' accepts no arguments\n\nUsage:  {use}\n\nRun '{path} --help' for more information", 1
    return f'"{path}" accepts no arguments.\nSee \'{path} --help\'.\n\nUsage:  {use}\n\n{SHORT[command]}', 1
