"""``docker compose``, the networking subset: ``up -d`` and ``down``.

Compose is a client: it reads the YAML, names everything after the project, and makes the
same API calls ``docker network create`` and ``docker run`` make. So does this module, on a
DockerHost of the lab. What it follows (docker/compose v5.5.0):

- the project name: ``-p``, else the file's top-level ``name:``, else the project directory's
  base name, lower-cased and stripped to ``[a-z0-9_-]`` (compose-go's NormalizeProjectName);
- networks ``<project>_<key>`` (``<project>_default`` for services that name none) unless
  ``name:`` is given; ``external: true`` ones must exist; labels ``com.docker.compose.*``
  (pkg/api/labels.go);
- containers ``<project>-<service>-<n>`` (pkg/compose/convergence.go getContainerName), one
  per service, each joined to its networks with the aliases ``[container name, service name,
  aliases...]`` (pkg/compose/create.go getAliases), the first network by priority, then name
  (NetworksByPriority); ``network_mode:`` host, none, bridge, ``service:NAME`` or
  ``container:NAME``;
- ``up``: every container created, then every one started, in ``depends_on`` order; a
  container whose service changed is recreated; ``down``: reverse order, then the networks;
- progress as the plain writer prints it when stderr is not a terminal, as in a notebook
  (cmd/display/plain.go: ``fmt.Fprintln(out, "", id, text, details)``).

Not here: builds, volumes, scaling, health checks, ``up`` attached to the logs, profiles,
``extends``, variables. A key the lab does not know is refused by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .cli import Output
from .errors import DaemonError, DockerError, UsageError

VERSION = "5.5.0"  # docker/compose, the version the labels carry
PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NETWORK = "com.docker.compose.network"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
HASH = "com.docker.compose.config-hash"
DEPENDS = "com.docker.compose.depends_on"
VERSION_LABEL = "com.docker.compose.version"
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
SERVICE_KEYS = {"image", "command", "container_name", "hostname", "networks", "network_mode", "ports",
                "depends_on", "environment", "cap_add", "cap_drop", "privileged", "dns", "mac_address"}
NETWORK_KEYS = {"name", "driver", "driver_opts", "internal", "attachable", "ipam", "external", "labels"}
TOP_KEYS = {"name", "services", "networks", "version"}
USAGE = """Usage:  docker compose [OPTIONS] COMMAND

The lab's compose knows:
  up -d [--remove-orphans]   Create and start containers
  down [--remove-orphans]    Stop and remove containers, networks
Options: -f, --file FILE (- for standard input), -p, --project-name NAME, --project-directory DIR"""


class ComposeError(DockerError):
    """The compose file or command line is wrong (compose exits 1 or 15 with this text)."""

    exit_code = 1


# --- the project model --------------------------------------------------------------------------
@dataclass
class NetworkSpec:
    key: str
    name: str
    driver: str = "bridge"
    options: dict = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    external: bool = False


@dataclass
class ServiceSpec:
    name: str
    image: str
    command: list[str]
    networks: dict          # key -> {"aliases": [...], "ipv4_address": ..., "priority": int}
    network_mode: str | None
    ports: list[str]
    depends_on: list[str]
    environment: list[str]
    container_name: str | None
    hostname: str | None
    cap_add: list[str]
    cap_drop: list[str]
    privileged: bool
    dns: list[str]
    mac_address: str | None
    raw: dict
    restart_deps: set = field(default_factory=set)  # dependencies with restart: true (network_mode: service:X)

    def container(self, project: str) -> str:
        return self.container_name or f"{project}-{self.name}-1"

    def networks_by_priority(self) -> list[str]:
        """compose-go's NetworksByPriority: higher ``priority`` first, then the key's name."""
        return sorted(self.networks, key=lambda k: (-int(self.networks[k].get("priority") or 0), k))

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Project:
    name: str
    services: dict[str, ServiceSpec]
    networks: dict[str, NetworkSpec]

    def in_order(self) -> list[ServiceSpec]:
        """Services in dependency order (depends_on and network_mode: service:X first), then by name."""
        done: list[str] = []

        def visit(name: str, path: tuple) -> None:
            if name in done:
                return
            if name in path:
                raise ComposeError(f"dependency cycle detected: {' -> '.join(path + (name,))}")
            for dep in sorted(self._needs(self.services[name])):
                visit(dep, path + (name,))
            done.append(name)

        for name in sorted(self.services):
            visit(name, ())
        return [self.services[n] for n in done]

    def _needs(self, svc: ServiceSpec) -> set[str]:
        mode = svc.network_mode or ""
        return set(svc.depends_on) | ({mode[8:]} if mode.startswith("service:") else set())


def _words(value, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise ComposeError(f"{where} must be a string or a list of strings")


def _strings(value, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ComposeError(f"{where} must be a list")


def _refuse_unknown(given: dict, known: set, where: str) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        raise ComposeError(f"{where}: the lab's compose does not support {', '.join(unknown)} "
                           f"(it knows: {', '.join(sorted(known))}); remove {'it' if len(unknown) == 1 else 'them'}")


def normalize_name(name: str) -> str:
    """compose-go's NormalizeProjectName: lower case, only a-z 0-9 _ -, no leading - or _."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def check_project_name(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name or ""):
        raise ComposeError(f'invalid project name "{name}": must consist only of lowercase alphanumeric '
                           f'characters, hyphens, and underscores as well as start with a letter or number')
    return name


def load(text: str, *, project_name: str | None, directory: str) -> Project:
    """The project a compose file describes (ComposeError, naming the key, when it is wrong)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ComposeError(f"the compose file is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ComposeError("the compose file must be a mapping with a services: key at the top")
    _refuse_unknown(data, TOP_KEYS, "top level")
    name = project_name or (str(data["name"]) if data.get("name") else normalize_name(Path(directory).name))
    name = check_project_name(name)
    services_raw = data.get("services") or {}
    if not isinstance(services_raw, dict) or not services_raw:
        raise ComposeError("no service selected: the compose file needs a services: mapping with at least one service")
    networks = {key: _network(name, key, spec or {}) for key, spec in (data.get("networks") or {}).items()}
    services = {str(key): _service(str(key), spec or {}) for key, spec in services_raw.items()}
    for svc in services.values():
        if svc.network_mode is None and not svc.networks:
            svc.networks = {"default": {}}
        if svc.network_mode is not None and svc.networks:
            raise ComposeError(f'service {svc.name} declares mutually exclusive `network_mode` and `networks`')
        for key in svc.networks:
            if key not in networks:
                if key != "default":
                    raise ComposeError(f'service "{svc.name}" refers to undefined network {key}: '
                                       f'invalid compose project')
                networks["default"] = NetworkSpec("default", f"{name}_default")
        for dep in svc.depends_on:
            if dep not in services:
                raise ComposeError(f'service "{svc.name}" depends on undefined service "{dep}": '
                                   f'invalid compose project')
        mode = svc.network_mode or ""
        if mode.startswith("service:") and mode[8:] not in services:
            raise ComposeError(f'service "{svc.name}" depends on undefined service "{mode[8:]}": '
                               f'invalid compose project')
        if mode.startswith("service:") and mode[8:] not in svc.depends_on:
            svc.depends_on.append(mode[8:])  # compose-go adds it (restart: true): the namespace's owner first
            svc.restart_deps.add(mode[8:])
    project = Project(name, services, networks)
    project.in_order()  # a cycle is refused before anything is made
    return project


def _network(project: str, key: str, spec: dict) -> NetworkSpec:
    where = f"networks.{key}"
    if not isinstance(spec, dict):
        raise ComposeError(f"{where} must be a mapping")
    _refuse_unknown(spec, NETWORK_KEYS, where)
    external = bool(spec.get("external"))
    net = NetworkSpec(key, str(spec.get("name") or (key if external else f"{project}_{key}")),
                      driver=str(spec.get("driver") or "bridge"),
                      options={str(k): str(v) for k, v in (spec.get("driver_opts") or {}).items()},
                      internal=bool(spec.get("internal")), attachable=bool(spec.get("attachable")),
                      external=external)
    ipam = spec.get("ipam") or {}
    _refuse_unknown(ipam, {"driver", "config"}, f"{where}.ipam")
    configs = ipam.get("config") or []
    if len(configs) > 1:
        raise ComposeError(f"{where}.ipam.config: the lab's IPAM is IPv4-only, one subnet per network")
    if configs:
        _refuse_unknown(configs[0], {"subnet", "gateway", "ip_range"}, f"{where}.ipam.config[0]")
        net.subnet, net.gateway, net.ip_range = (configs[0].get(k) for k in ("subnet", "gateway", "ip_range"))
    return net


def _service(name: str, spec: dict) -> ServiceSpec:
    where = f"services.{name}"
    if not isinstance(spec, dict):
        raise ComposeError(f"{where} must be a mapping")
    _refuse_unknown(spec, SERVICE_KEYS, where)
    if not spec.get("image"):
        raise ComposeError(f'service "{name}" has neither an image nor a build context specified: '
                           f'invalid compose project (the lab builds nothing: give an image)')
    networks_raw = spec.get("networks") or {}
    if isinstance(networks_raw, list):
        networks = {str(k): {} for k in networks_raw}
    elif isinstance(networks_raw, dict):
        networks = {}
        for key, cfg in networks_raw.items():
            cfg = cfg or {}
            _refuse_unknown(cfg, {"aliases", "ipv4_address", "priority", "gw_priority"}, f"{where}.networks.{key}")
            networks[str(key)] = {"aliases": _strings(cfg.get("aliases"), f"{where}.networks.{key}.aliases"),
                                  "ipv4_address": cfg.get("ipv4_address"), "priority": cfg.get("priority") or 0,
                                  "gw_priority": cfg.get("gw_priority") or 0}
    else:
        raise ComposeError(f"{where}.networks must be a list or a mapping")
    depends = spec.get("depends_on") or []
    env = spec.get("environment") or []
    if isinstance(env, dict):
        env = [f"{k}={'' if v is None else v}" for k, v in env.items()]
    return ServiceSpec(
        name=name, image=str(spec["image"]), command=_words(spec.get("command"), f"{where}.command"),
        networks=networks, network_mode=spec.get("network_mode"),
        ports=[str(p) for p in _strings(spec.get("ports"), f"{where}.ports")],
        depends_on=[str(d) for d in (depends if isinstance(depends, list) else list(depends))],
        environment=[str(e) for e in env], container_name=spec.get("container_name"),
        hostname=spec.get("hostname"), cap_add=_strings(spec.get("cap_add"), f"{where}.cap_add"),
        cap_drop=_strings(spec.get("cap_drop"), f"{where}.cap_drop"), privileged=bool(spec.get("privileged")),
        dns=_strings(spec.get("dns"), f"{where}.dns"), mac_address=spec.get("mac_address"), raw=spec)


# --- the command line ---------------------------------------------------------------------------
def run(host, words: list[str], *, input: str | None = None) -> Output:
    """``docker compose WORDS...`` on ``host``; ``input``: standard input (for ``-f -``)."""
    files, project_name, directory, rest = [], None, None, list(words)
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        name, eq, inline = flag.partition("=")
        if name in ("-f", "--file", "-p", "--project-name", "--project-directory"):
            if not eq and not rest:
                raise UsageError(f"flag needs an argument: {name}")
            value = inline if eq else rest.pop(0)
            if name in ("-f", "--file"):
                files.append(value)
            elif name in ("-p", "--project-name"):
                project_name = check_project_name(value)
            else:
                directory = value
        elif name in ("-h", "--help"):
            return Output.of(USAGE + "\n")
        else:
            raise UsageError(f"unknown flag: {name}\n\n{USAGE}")
    if not rest:
        return Output.of(USAGE + "\n")
    command, args = rest[0], rest[1:]
    handlers = {"up": _up, "down": _down}
    if command not in handlers:
        raise UsageError(f"unknown docker command: \"compose {command}\"\n\n{USAGE}")
    flags = _flags(command, args)
    text = _read(files, directory, input, required=command == "up" or project_name is None)
    project = None
    if text is not None:
        project = load(text, project_name=project_name, directory=_directory(files, directory))
    name = project.name if project else project_name
    return handlers[command](host, name, project, flags)


def _flags(command: str, args: list[str]) -> set:
    allowed = {"up": {"-d", "--detach", "--remove-orphans"}, "down": {"--remove-orphans"}}[command]
    flags = set()
    for arg in args:
        if arg not in allowed:
            raise UsageError(f"the lab's `docker compose {command}` takes only {', '.join(sorted(allowed))} "
                             f"(got {arg}); services cannot be named one by one here")
        flags.add("--detach" if arg == "-d" else arg)
    if command == "up" and "--detach" not in flags:
        raise UsageError("the lab cannot attach to the containers' output: run `docker compose up -d`, "
                         "then `docker logs CONTAINER`")
    return flags


def _directory(files: list[str], directory: str | None) -> str:
    """The project directory: --project-directory, else the first file's, else the working directory."""
    if directory:
        return directory
    if files and files[0] != "-":
        return str(Path(files[0]).resolve().parent)
    return os.getcwd()


def _read(files: list[str], directory: str | None, input: str | None, *, required: bool) -> str | None:
    """The compose file's text: stdin for ``-f -``, the file(s) named, or the first default name
    in the project directory. Several files are not merged here."""
    if len(files) > 1:
        raise ComposeError("the lab's compose reads one file: merge them into one (or give -f once)")
    if files == ["-"]:
        if input is None:
            raise ComposeError("-f - reads the compose file from standard input, and none was given: "
                               "pass input=... (or use a %%docker cell, whose body is the input)")
        return input
    if files:
        path = Path(files[0])
    else:
        base = Path(directory or os.getcwd())
        path = next((base / n for n in DEFAULT_FILES if (base / n).is_file()), None)
        if path is None:
            if not required:
                return None
            raise ComposeError("no configuration file provided: not found")
    try:
        return path.read_text()
    except OSError as exc:
        raise ComposeError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from None


# --- up / down -------------------------------------------------------------------------------
def _event(lines: list[str], resource: str, text: str, details: str = "") -> None:
    lines.append(f" {resource} {text} {details}")  # Go's Fprintln("", id, text, details)


def _project_containers(host, project: str) -> list:
    return [c for c in host.containers.values() if c.labels.get(PROJECT) == project]


def _up(host, name: str, project: Project, flags: set) -> Output:
    lines: list[str] = []
    order = project.in_order()
    plan = _plan(host, name, order)  # refusals first: a refused `up` changes nothing
    used = {key for svc in order for key in svc.networks}
    for key in sorted(used):
        spec = project.networks[key]
        if spec.external and spec.name not in host.networks:
            raise ComposeError(f"network {spec.name} declared as external, but could not be found")
    wanted = {svc.container(name) for svc in order}
    orphans = [c for c in _project_containers(host, name) if c.name not in wanted]
    if orphans and "--remove-orphans" not in flags:
        lines.append(f"WARN[0000] Found orphan containers ({', '.join(sorted(c.name for c in orphans))}) for this "
                     f"project. If you removed or renamed this service in your compose file, you can run this "
                     f"command with the --remove-orphans flag to clean it up.")
    # emitRunningEvents (create.go): the containers left as they are, before the plan runs
    for svc in order:
        if plan[svc.name] == "running":
            _event(lines, f"Container {svc.container(name)}", "Running")
    for ctr in orphans if "--remove-orphans" in flags else []:
        _remove_container(host, ctr, lines)
    for key in sorted(used):
        _ensure_network(host, name, project.networks[key], lines)
    for svc in reversed(order):  # a namespace's users go before its owner (network_mode: service:X)
        if plan[svc.name] == "recreate":
            _remove_quietly(host, host.containers[svc.container(name)])
    to_start = []
    for svc in order:
        cname, how = svc.container(name), plan[svc.name]
        if how == "running":
            continue
        if how == "recreate":
            _event(lines, f"Container {cname}", "Recreate")
            _event(lines, f"Container {cname}", "Recreated")
        elif how == "run":
            _event(lines, f"Container {cname}", "Creating")
            _event(lines, f"Container {cname}", "Created")
        to_start.append((svc, how))
    for svc, how in to_start:
        cname = svc.container(name)
        _event(lines, f"Container {cname}", "Starting")
        if how == "start":
            host.start(cname)
        else:
            _run_service(host, project, svc)
        _event(lines, f"Container {cname}", "Started")
    host.compose_projects[name] = project
    return Output.of("\n".join(lines) + "\n")


def _plan(host, name: str, order: list[ServiceSpec]) -> dict[str, str]:
    """Per service: "run" (new), "running", "start" (stopped, unchanged) or "recreate" (its
    configuration changed, or the container whose namespace it shares is recreated)."""
    plan: dict[str, str] = {}
    for svc in order:
        existing = host.containers.get(svc.container(name))
        mode = svc.network_mode or ""
        owner_new = mode.startswith("service:") and plan.get(mode[8:]) in ("recreate", "run")
        if existing is None:
            plan[svc.name] = "run"
        elif existing.labels.get(PROJECT) != name:
            raise DaemonError(f'Conflict. The container name "/{existing.name}" is already in use by container '
                              f'"{existing.id}". You have to remove (or rename) that container to be able to '
                              f'reuse that name.')
        elif existing.labels.get(HASH) != svc.config_hash() or owner_new:
            plan[svc.name] = "recreate"
        else:
            plan[svc.name] = "running" if existing.running else "start"
    return plan


def _ensure_network(host, project: str, spec: NetworkSpec, lines: list[str]) -> None:
    """ensureNetwork: an external one must exist; a project one is made once, with its labels."""
    existing = host.networks.get(spec.name)
    if spec.external:
        if existing is None:
            raise ComposeError(f"network {spec.name} declared as external, but could not be found")
        return
    if existing is not None:
        if existing.labels.get(PROJECT) not in (None, project) or existing.labels.get(NETWORK) not in (None, spec.key):
            raise ComposeError(f'network {spec.name} was found but has incorrect label {NETWORK} set to '
                               f'"{existing.labels.get(NETWORK, "")}" (expected: "{spec.key}")')
        if NETWORK not in existing.labels:
            lines.append(f'WARN[0000] a network with name {spec.name} exists but was not created by compose.\n'
                         f'Set `external: true` to use an existing network')
        return
    _event(lines, f"Network {spec.name}", "Creating")
    host.create_network(spec.name, driver=spec.driver, subnet=spec.subnet, gateway=spec.gateway,
                        ip_range=spec.ip_range, internal=spec.internal, options=spec.options,
                        attachable=spec.attachable,
                        labels={NETWORK: spec.key, PROJECT: project, VERSION_LABEL: VERSION})
    _event(lines, f"Network {spec.name}", "Created")


def _run_service(host, project: Project, svc: ServiceSpec) -> None:
    """ContainerCreate with the first network (or the network mode), then each further network."""
    from .cli import publish_specs

    name = project.name
    keys = svc.networks_by_priority()
    mode = svc.network_mode
    if mode and mode.startswith("service:"):
        mode = "container:" + project.services[mode[8:]].container(name)
    first = keys[0] if keys else None

    def aliases(key: str) -> list[str]:
        return [svc.container(name), svc.name, *svc.networks[key].get("aliases", [])]

    labels = {PROJECT: name, SERVICE: svc.name, NUMBER: "1", ONEOFF: "False", HASH: svc.config_hash(),
              DEPENDS: ",".join(f"{d}:service_started:{str(d in svc.restart_deps).lower()}" for d in svc.depends_on),
              VERSION_LABEL: VERSION}
    ctr, _ = host.run(svc.image, svc.command, name=svc.container(name), detach=True,
                      network=project.networks[first].name if first else mode,
                      publish=publish_specs(svc.ports, host.engine.major),
                      ip=svc.networks[first].get("ipv4_address") if first else None,
                      aliases=aliases(first) if first else [], hostname=svc.hostname, dns=svc.dns,
                      mac_address=svc.mac_address, env=svc.environment, cap_add=svc.cap_add,
                      cap_drop=svc.cap_drop, privileged=svc.privileged, labels=labels)
    for key in keys[1:]:
        cfg = svc.networks[key]
        host.connect(project.networks[key].name, ctr.name, ip=cfg.get("ipv4_address"), aliases=aliases(key),
                     gw_priority=int(cfg.get("gw_priority") or 0))


def _remove_quietly(host, ctr) -> None:
    if ctr.running:
        host.stop(ctr.name)
    host.remove(ctr.name, force=True)


def _remove_container(host, ctr, lines: list[str]) -> None:
    """stopAndRemoveContainer: Stopping, Stopped, Removing, Removed (down.go: the stop is asked,
    and its events printed, for a container already stopped too: the daemon answers 304)."""
    resource = f"Container {ctr.name}"
    _event(lines, resource, "Stopping")
    if ctr.running:
        host.stop(ctr.name)
    _event(lines, resource, "Stopped")
    _event(lines, resource, "Removing")
    host.remove(ctr.name, force=True)
    _event(lines, resource, "Removed")


def _down(host, name: str, project: Project | None, flags: set) -> Output:
    """Containers in reverse dependency order (of the file, else of the labels), then the networks."""
    lines: list[str] = []
    containers = _project_containers(host, name)
    if project is not None:
        rank = {svc.name: i for i, svc in enumerate(project.in_order())}
        ours = [c for c in containers if c.labels.get(SERVICE) in rank]
        orphans = [c for c in containers if c.labels.get(SERVICE) not in rank]
        ours.sort(key=lambda c: (-rank[c.labels[SERVICE]], c.name))
    else:  # the project as its containers' labels describe it (getProjectWithResources)
        ours, orphans = _by_labels_in_reverse(containers), []
    for ctr in ours + (orphans if "--remove-orphans" in flags else []):
        _remove_container(host, ctr, lines)
    if project is not None:
        names = [n.name for n in project.networks.values() if not n.external]
    else:
        names = [n.name for n in host.networks.values() if n.labels.get(PROJECT) == name]
    for net_name in sorted(names):
        net = host.networks.get(net_name)
        if net is None or net.labels.get(PROJECT) != name:
            continue
        _event(lines, f"Network {net_name}", "Removing")  # removeNetwork: then one of these two
        if net.endpoints:
            _event(lines, f"Network {net_name}", "Resource is still in use")
            continue
        host.remove_network(net_name)
        _event(lines, f"Network {net_name}", "Removed")
    host.compose_projects.pop(name, None)
    if not containers and not names:  # down.go: no container, and no network to try
        lines.append(f'WARN[0000] Warning: No resource found to remove for project "{name}".')
    return Output.of("\n".join(lines) + "\n" if lines else "")


def _by_labels_in_reverse(containers: list) -> list:
    """Containers in reverse dependency order, the dependencies read from their depends_on labels."""
    needs = {c.labels.get(SERVICE, c.name): {d.split(":")[0] for d in c.labels.get(DEPENDS, "").split(",") if d}
             for c in containers}
    order: list[str] = []

    def visit(name: str, path: tuple) -> None:
        if name in order or name in path:
            return
        for dep in sorted(needs.get(name, ())):
            visit(dep, path + (name,))
        order.append(name)

    for name in sorted(needs):
        visit(name, ())
    rank = {name: i for i, name in enumerate(order)}
    return sorted(containers, key=lambda c: (-rank[c.labels.get(SERVICE, c.name)], c.name))
