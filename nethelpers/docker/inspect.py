"""``docker inspect`` of a container, key for key as the engine the host emulates prints it.

The shape is moby's: ``ContainerJSON`` (``ContainerJSONBase`` + Mounts, Config,
NetworkSettings) in api/types/types.go at v27.5.1, ``container.InspectResponse`` in
api/types/container/container.go at docker-v29.7.2; Go structs print in field order, Go maps
with sorted keys. The values are what ``docker run`` gets: the CLI's defaults
(cli/command/container/opts.go ``parse``), then the daemon's (daemon/create*.go,
daemon_unix.go ``adaptContainerSettings``, the create route's ``PidsLimit`` and
``fixMemorySwappiness``), then the image's config (Env, Entrypoint, ExposedPorts, ...).

The lab has no images: an image's ID is made up, stable per name and tag (see
:func:`image_id`), and its config is the small part of the real image's config the output
shows (:data:`IMAGE_CONFIG`).
"""

from __future__ import annotations

import hashlib
import os

from . import capabilities, netinfo
from .model import Container, EndpointConfig
from .naming import short
from .system import DOCKER_ROOT_DIR, STORAGE

NEVER = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as the API prints a time not reached

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The Docker Hub images' config as `docker image inspect` shows it (Env: only the variables
# that do not change with every release of the image)
IMAGE_CONFIG = {
    "nginx": {"Env": [PATH], "Entrypoint": ["/docker-entrypoint.sh"], "ExposedPorts": ["80/tcp"],
              "Labels": {"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
              "StopSignal": "SIGQUIT"},
    "httpd": {"Env": ["PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "HTTPD_PREFIX=/usr/local/apache2"], "ExposedPorts": ["80/tcp"],
              "WorkingDir": "/usr/local/apache2", "StopSignal": "SIGWINCH"},
    "ubuntu": {"Env": [PATH], "Labels": {"org.opencontainers.image.ref.name": "ubuntu",
                                         "org.opencontainers.image.version": "24.04"}},
    # nicolaka/netshoot's Dockerfile: WORKDIR /root, ENV HOSTNAME netshoot (Alpine's PATH)
    "nicolaka/netshoot": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "HOSTNAME=netshoot"], "WorkingDir": "/root"},
}

# HostConfig.MaskedPaths / ReadonlyPaths the daemon fills in (v27.5.1 oci/defaults.go;
# docker-v29.7.2 daemon/pkg/oci/defaults.go defaultLinuxMaskedPaths, sorted, plus each CPU's
# thermal_throttle directory that exists)
MASKED_PATHS = {
    27: ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
         "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"],
    29: ["/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
         "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
         "/sys/devices/virtual/powercap", "/sys/firmware"],
}
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
SHM_SIZE = 67108864  # daemon/config DefaultShmSize (64 MiB)


def image_id(image: str, tag: str) -> str:
    """A made-up image ID, ``sha256:`` and 64 hex digits, the same for the same name and tag
    (Docker's is the digest of the image's config, or of its index with the containerd store)."""
    return "sha256:" + hashlib.sha256(f"nethelpers image {image}:{tag}".encode()).hexdigest()


def _thermal_paths() -> list[str]:
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            spans = f.read().strip()
    except OSError:
        return []
    cpus = []
    for span in filter(None, spans.split(",")):
        first, _, last = span.partition("-")
        cpus += range(int(first), int(last or first) + 1)
    paths = (f"/sys/devices/system/cpu/cpu{n}/thermal_throttle" for n in cpus)
    return [p for p in paths if os.path.exists(p)]


def _apparmor() -> str:
    """"docker-default" where the kernel has AppArmor enabled (daemon: apparmor.HostSupports())."""
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return "docker-default" if f.read().strip() == "Y" else ""
    except OSError:
        return ""


def exposed_ports(c: Container) -> list[str]:
    """Config.ExposedPorts: the image's and each -p's container side (sorted as a Go map)."""
    ports = set(IMAGE_CONFIG.get(c.image, {}).get("ExposedPorts", []))
    ports |= {f"{s.container_port}/{s.proto}" for s in c.publish}
    return sorted(ports)


def port_map(c: Container) -> dict:
    """NetworkSettings.Ports: each exposed port, with what the driver bound for it (null when
    nothing). Empty once the container's network is released (releaseNetwork: Ports = nil), and
    for a container without a network of its own (host, none, container:)."""
    if c.sandbox is None or c.joined or c.network_mode in ("host", "none"):
        return {}
    ports: dict[str, list | None] = {key: None for key in exposed_ports(c)}
    for pm in c.port_mappings():
        key = f"{pm.container_port}/{pm.proto}"
        ports[key] = (ports.get(key) or []) + [{"HostIp": pm.host_ip, "HostPort": str(pm.host_port)}]
    return dict(sorted(ports.items()))


def container_inspect(c: Container, sandbox_key: str, *, major: int = 27, owner: Container | None = None,
                      network_ids: dict | None = None) -> dict:
    """``docker inspect`` of ``c`` on a Docker ``major`` (27 or 29) host; ``owner``: the
    container whose namespace a ``--network container:`` one joined; ``network_ids``: network
    name -> ID, for the networks an exited container was on."""
    image = IMAGE_CONFIG.get(c.image, {})
    entrypoint = image.get("Entrypoint")
    argv = [*(entrypoint or []), *c.shown_command]
    files = f"{DOCKER_ROOT_DIR}/containers/{(owner or c).id}"  # initializeNetworking: the owner's files
    running = c.running
    driver = STORAGE[major][0]
    inspect = {
        "Id": c.id, "Created": c.created, "Path": argv[0], "Args": argv[1:],
        # moby api/types/container State (docker-v29.7.2 container.go; v27.5.1 types.go ContainerState)
        "State": {"Status": "running" if running else "exited", "Running": running, "Paused": False,
                  "Restarting": False, "OOMKilled": False, "Dead": False,
                  "Pid": (c.process.pid or 0) if running else 0,
                  "ExitCode": 0 if running else (c.exit_code or 0), "Error": "",
                  "StartedAt": c.started or c.created,
                  # SetRunning keeps FinishedAt: a restarted container shows when its last run ended
                  "FinishedAt": (c.last_finished or NEVER) if running else (c.finished or c.created)},
        "Image": image_id(c.image, c.tag),
        "ResolvConfPath": f"{files}/resolv.conf", "HostnamePath": f"{files}/hostname",
        "HostsPath": f"{files}/hosts", "LogPath": f"{DOCKER_ROOT_DIR}/containers/{c.id}/{c.id}-json.log",
        "Name": "/" + c.name, "RestartCount": 0, "Driver": driver, "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": _apparmor(), "ExecIDs": None,
        "HostConfig": host_config(c, major),
    }
    layer = hashlib.sha256(f"nethelpers layer {c.id}".encode()).hexdigest()
    if major >= 29:  # the containerd image store (29's default): Storage, no GraphDriver
        inspect["Storage"] = {"RootFS": {"Snapshot": {"Name": driver}}}
    else:  # overlay2's RWLayer.Metadata(), a Go map (sorted keys); the image's layer made up
        root = f"{DOCKER_ROOT_DIR}/overlay2/{layer}"
        lower = hashlib.sha256(f"nethelpers layer {c.image}:{c.tag}".encode()).hexdigest()
        inspect["GraphDriver"] = {"Data": {"LowerDir": f"{root}-init/diff:{DOCKER_ROOT_DIR}/overlay2/{lower}/diff",
                                           "MergedDir": f"{root}/merged", "UpperDir": f"{root}/diff",
                                           "WorkDir": f"{root}/work"}, "Name": driver}
    inspect["Mounts"] = []
    inspect["Config"] = config(c, major)
    inspect["NetworkSettings"] = network_settings(c, sandbox_key, major, network_ids or {})
    if major >= 29:  # API 1.48+, the containerd store: the platform's manifest (made up, as the image ID)
        digest = "sha256:" + hashlib.sha256(f"nethelpers manifest {c.image}:{c.tag}".encode()).hexdigest()
        inspect["ImageManifestDescriptor"] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 1024,
            "platform": {"architecture": _goarch(), "os": "linux"}}
    return inspect


def _goarch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def host_config(c: Container, major: int) -> dict:
    """HostConfig (api/types/container/hostconfig.go, the same fields at both tags; 27's
    KernelMemory/KernelMemoryTCP are omitempty and zero)."""
    bindings: dict[str, list] = {}
    for s in c.publish:  # nat.ParsePortSpecs, as the CLI sent them: HostIp "" when none was given
        port = getattr(s, "host_port_text", None)
        bindings.setdefault(f"{s.container_port}/{s.proto}", []).append(
            {"HostIp": s.host_ip, "HostPort": port if port is not None else str(s.host_port or "")})
    return {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": c.network_mode, "PortBindings": dict(sorted(bindings.items())),
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": c.auto_remove,
        "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0],
        "CapAdd": capabilities.as_sent(c.cap_add, major), "CapDrop": capabilities.as_sent(c.cap_drop, major),
        "CgroupnsMode": "private",
        # 29's CLI sends DNS as []netip.Addr, nil when none (toNetipAddrSlice); 27's GetAllOrEmpty
        "Dns": list(c.dns) if c.dns or major < 29 else None, "DnsOptions": [], "DnsSearch": [],
        "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None,
        "OomScoreAdj": 0, "PidMode": "", "Privileged": c.privileged, "PublishAllPorts": False,
        "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
        "ShmSize": SHM_SIZE, "Runtime": "runc", "Isolation": "",
        # Resources
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None,
        "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": MASKED_PATHS[major] + (_thermal_paths() if major >= 29 else []),
        "ReadonlyPaths": list(READONLY_PATHS),
    }


def config(c: Container, major: int) -> dict:
    """Config (api/types/container/config.go): the CLI's, merged with the image's."""
    image = IMAGE_CONFIG.get(c.image, {})
    attach = not c.detached
    env = list(c.env)
    names = {e.partition("=")[0] for e in env}
    env += [e for e in image.get("Env", [PATH]) if e.partition("=")[0] not in names]  # runconfig Merge
    out = {"Hostname": c.hostname or short(c.id), "Domainname": "", "User": "",
           "AttachStdin": attach and c.interactive, "AttachStdout": attach, "AttachStderr": attach}
    ports = exposed_ports(c)
    if ports:
        out["ExposedPorts"] = {p: {} for p in ports}
    out.update({"Tty": c.tty, "OpenStdin": c.interactive, "StdinOnce": attach and c.interactive,
                "Env": env, "Cmd": list(c.shown_command),
                "Image": c.image if c.tag == "latest" else f"{c.image}:{c.tag}",
                "Volumes": None, "WorkingDir": image.get("WorkingDir", ""), "Entrypoint": image.get("Entrypoint")})
    if major < 29:
        if c.mac_address:  # getInspectData: Config.MacAddress = the endpoint's DesiredMacAddress
            out["MacAddress"] = c.mac_address
        out["OnBuild"] = None  # omitempty from 29 on
    out["Labels"] = dict(sorted({**image.get("Labels", {}), **c.labels}.items()))
    if image.get("StopSignal"):
        out["StopSignal"] = image["StopSignal"]
    return out


def _endpoint(c: Container, name: str, ep, major: int, network_id: str) -> dict:
    """EndpointSettings (api/types/network/endpoint.go); ``ep`` None: released (cleanOperationalData
    keeps the network, the IPAMConfig and aliases as given, the DNS names)."""
    net = ep.network if ep is not None else None
    user_defined = netinfo.user_defined(net) if net is not None else name not in ("bridge", "host", "none")
    given = c.endpoint_config.get(name) or EndpointConfig()
    aliases = list(ep.aliases) if ep is not None else list(given.aliases)
    requested_ip = ep.requested_ip if ep is not None else given.ip
    dns_names = None
    if user_defined:  # buildEndpointDNSNames: name, aliases, short ID, hostname, deduplicated
        dns_names = list(dict.fromkeys([c.name, *aliases, short(c.id), c.hostname or short(c.id)]))
    wired = ep is not None and ep.ip is not None
    settings = {
        "IPAMConfig": {"IPv4Address": requested_ip} if requested_ip else None,
        "Links": None, "Aliases": aliases or None,
        "MacAddress": ep.mac if ep is not None and ep.mac else "",
        "DriverOpts": None,
        "GwPriority": given.gw_priority,
        "NetworkID": net.id if net is not None else network_id,
        "EndpointID": ep.id if ep is not None else "",
        "Gateway": net.gateway_ip if wired and not net.internal else "",
        "IPAddress": str(ep.ip) if wired else "",
        "IPPrefixLen": int(net.subnet.split("/")[1]) if wired and net.subnet else 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "DNSNames": dns_names,
    }
    if major >= 29:  # 29's field order: MacAddress after IPAddress, GwPriority (API 1.48+)
        order = ["IPAMConfig", "Links", "Aliases", "DriverOpts", "GwPriority", "NetworkID", "EndpointID",
                 "Gateway", "IPAddress", "MacAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address",
                 "GlobalIPv6PrefixLen", "DNSNames"]
    else:
        order = ["IPAMConfig", "Links", "Aliases", "MacAddress", "DriverOpts", "NetworkID", "EndpointID",
                 "Gateway", "IPAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address",
                 "GlobalIPv6PrefixLen", "DNSNames"]
    return {key: settings[key] for key in order}


def network_settings(c: Container, sandbox_key: str, major: int, network_ids: dict) -> dict:
    """NetworkSettings: 27's NetworkSettingsBase + DefaultNetworkSettings (the default bridge's
    endpoint, deprecated) + Networks; 29's SandboxID, SandboxKey, Ports, Networks (API 1.52
    dropped the rest)."""
    networks = {name: _endpoint(c, name, ep, major, "") for name, ep in c.endpoints.items()}
    for name in c.endpoint_config:
        networks.setdefault(name, _endpoint(c, name, None, major, network_ids.get(name, "")))
    networks = dict(sorted(networks.items()))
    released = c.sandbox is None
    sandbox_id = "" if released else getattr(c.sandbox, "id", c.id)
    key = "" if released else sandbox_key
    ports = port_map(c)
    if major >= 29:
        return {"SandboxID": sandbox_id, "SandboxKey": key, "Ports": ports, "Networks": networks}
    bridge = networks.get("bridge") or {}
    return {
        "Bridge": "", "SandboxID": sandbox_id, "SandboxKey": key, "Ports": ports, "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        **{k: bridge.get(k, 0 if k.endswith("PrefixLen") else "") for k in
           ("EndpointID", "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen",
            "IPv6Gateway", "MacAddress")},
        "Networks": networks,
    }
