"""What each docker command does: one function per command, called with the host (a
:class:`~nethelpers.docker.daemon.DockerHost`), the flags by name and the arguments that
:func:`nethelpers.docker.cli.parse` read; each returns what the docker CLI prints.
"""

from __future__ import annotations

import json

from .cli import Output, Parsed, parse, publish_for
from .errors import DaemonError, DockerError, UsageError
from . import inspect, output, system


def execute(host, words: "list[str] | Parsed") -> Output:
    """Run one docker command line against ``host`` (a DockerHost)."""
    parsed = words if isinstance(words, Parsed) else parse(words)
    handler = HANDLERS[parsed.command]
    try:
        return handler(host, parsed.options, parsed.args)
    except DaemonError as exc:
        if parsed.command != "run":
            raise
        error = DockerError(run_refused(str(exc), host.engine.major))
        error.exit_code = run_status(str(exc))
        raise error from None


def run_status(message: str) -> int:
    """docker run's exit status when the daemon refused (docker/cli v29.7.2 run.go toStatusError,
    v27.5.1 runStartContainerErr): 127 for a command not found, 126 for one not permitted, else 125."""
    if any(m in message for m in ("executable file not found", "no such file or directory",
                                  "system cannot find the file specified")):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def run_refused(message: str, major: int) -> str:
    """The daemon's refusal of a ``run`` as the CLI prints it: 27's reportError (a period, then
    "See 'docker run --help'."; docker/cli v27.5.1 cli/command/container/run.go), 29's withHelp
    (docker/cli v29.7.2 run.go: "docker: %w\n\nRun 'docker run --help' for more information")."""
    if major >= 29:
        return f"docker: {message}\n\nRun 'docker run --help' for more information"
    return f"docker: {message.rstrip('.')}.\nSee 'docker run --help'."


# --- one function per command -----------------------------------------------------------
def _run(host, o, args) -> Output:
    image, command = args[0], args[1:]
    ctr, printed = host.run(image, command, env=o["env"], name=o["name"], detach=o["detach"], network=o["network"],
                          publish=publish_for(o, host.engine), ip=o["ip"], auto_remove=o["rm"], aliases=o["network_alias"],
                          keep_open=o["interactive"] or o["tty"], hostname=o["hostname"], dns=o["dns"],
                          mac_address=o["mac_address"], cap_add=o["cap_add"], cap_drop=o["cap_drop"],
                          privileged=o["privileged"])
    return Output.of(printed, 0 if o["detach"] else ctr.exit_code or 0)


def _exec(host, o, args) -> Output:
    text, exit_code = host.exec(args[0], args[1:], detach=o["detach"], privileged=o.get("privileged", False),
                                env=o["env"])
    return Output.of(text, exit_code)


def _rm(host, o, args) -> Output:
    # with -f a container that does not exist is not an error (docker CLI 20.10+: it only tells stderr)
    if o["force"]:
        args = [ref for ref in args if _exists(host, ref)]
    return Output.of("".join(host.remove(ref, force=o["force"]) + "\n" for ref in args))


def _exists(host, ref: str) -> bool:
    try:
        host.container(ref)
    except DockerError:
        return False
    return True


def _ps(host, o, args) -> Output:
    """GET /containers/json (newest first; running ones unless -a; ``-n N``/``-l``: the N/1
    last created, in any state) through the CLI's ps formatter (docker/cli v27.5.1 and v29.7.2
    cli/command/container/list.go buildContainerListOptions, runPs; formatter/container.go:
    the template parsed first, ``-q`` over a custom format)."""
    last = _int_flag(o["last"], "-n, --last", "ps") if o.get("last") is not None else -1
    if o.get("latest") and last == -1:
        last = 1
    if o["format"]:
        try:
            output.check(o["format"])
        except ValueError as exc:
            raise UsageError(f"failed to parse template: {exc}") from None
    host._reap()
    listed = [c for c in reversed(list(host.containers.values())) if o["all"] or last >= 0 or c.running]
    if last >= 0:
        listed = listed[:last]
    summaries = [output.container_summary(c, _container_inspect(host, c)) for c in listed]
    try:
        return Output.of(output.ps(summaries, major=host.engine.major, template=o["format"], quiet=o["quiet"],
                                   trunc=not o["no_trunc"]))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(f"failed to execute template: {exc}") from None


def _int_flag(value: str, names: str, command: str) -> int:
    """pflag's IntVarP: a value that is not a base-10 int is refused, as strconv.ParseInt words it."""
    try:
        return int(value, 10)
    except ValueError:
        problem = "value out of range" if value.lstrip("+-").isdigit() else "invalid syntax"
        raise UsageError(f'invalid argument "{value}" for "{names}" flag: strconv.ParseInt: parsing '
                         f'"{value}": {problem}\nSee \'docker {command} --help\'.') from None


def _container_inspect(host, ctr) -> dict:
    sandbox = "/var/run/docker/netns/default" if ctr.network_mode == "host" else f"/run/netns/{ctr.node}"
    owner = next((c for c in host.containers.values() if c.id == ctr.joined), None) if ctr.joined else None
    return inspect.container_inspect(ctr, sandbox, major=host.engine.major, owner=owner,
                                     network_ids={n.name: n.id for n in host.networks.values()})


def _inspect(host, o, args) -> Output:
    template = _template(o["format"])
    objects = []
    for ref in args:
        try:
            ctr = host.container(ref)
            objects.append(_container_inspect(host, ctr))
        except DockerError:
            try:
                net = host.network(ref)
            except DockerError:
                raise DockerError(f"Error: No such object: {ref}") from None
            objects.append(output.network_inspect(
                net, host.containers, host.overlay_peers(net) if net.type == "overlay" else None,
                major=host.engine.major))
    return _formatted(objects, template)


def _template(template: str | None) -> str | None:
    """-f/--format, parsed before any object is looked up, as the CLI does; "" is the default
    (cli/command/inspect/inspector.go: NewTemplateInspectorFromString, and Inspect's exit status 64)."""
    if not template:
        return None
    try:
        output.check(template)
    except ValueError as exc:
        error = UsageError(f"template parsing error: {exc}")
        error.exit_code = 64
        raise error from None
    return template


def _formatted(objects: list[dict], template: str | None) -> Output:
    if template is None:
        return Output.of(output.as_json(objects))
    try:
        return Output.of("".join(output.render(template, obj) for obj in objects))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(f"template parsing error: {exc}") from None


def _port(host, o, args) -> Output:
    """cli/command/container/port.go runPort: inspect, then NetworkSettings.Ports; the errors
    name the container as it was given."""
    ctr = host.container(args[0])
    ports = _container_inspect(host, ctr)["NetworkSettings"]["Ports"]
    if len(args) == 1:
        return Output.of(output.port_lines(ports, None))
    key = _port_key(host.engine.major, args[1])
    text = output.port_lines(ports, key)
    if text is None:
        raise DockerError(f"Error: No public port '{args[1]}' published for {args[0]}" if host.engine.major < 29
                          else f"no public port '{args[1]}' published for {args[0]}")
    return Output.of(text)


def _port_key(major: int, wanted: str) -> str:
    """PRIVATE_PORT[/PROTO] as the CLI reads it: v27.5.1 strings.Cut + strconv.ParseUint(port,
    10, 16), the key kept as written; docker-v29.7.2 network.ParsePort (the number parsed, the
    protocol lower-cased)."""
    number, _, proto = wanted.partition("/")
    problem = None
    if not number:
        problem = "value is empty" if major >= 29 else f'strconv.ParseUint: parsing "{number}": invalid syntax'
    elif not (number.isascii() and number.isdigit()):
        problem = "invalid syntax" if major >= 29 else f'strconv.ParseUint: parsing "{number}": invalid syntax'
    elif int(number) > 65535:
        problem = "value out of range" if major >= 29 else f'strconv.ParseUint: parsing "{number}": value out of range'
    if problem:
        raise DockerError(f"invalid port '{number}': {problem}" if major >= 29
                          else f"Error: invalid port ({number}): {problem}")
    if major >= 29:
        return f"{int(number)}/{(proto or 'tcp').lower()}"
    return f"{number}/{proto or 'tcp'}"


def _stop(host, o, args) -> Output:
    return Output.of("".join(host.stop(ref) + "\n" for ref in args))


def _each(refs: list[str], act) -> tuple[str, list[str], list[str]]:
    """``act`` on each container in turn, going on past failures: (the names printed, the refs
    that failed, their errors), as start.go and restart.go loop."""
    printed, failed, errors = [], [], []
    for ref in refs:
        try:
            printed.append(act(ref) + "\n")
        except DockerError as exc:
            failed.append(ref)
            errors.append(str(exc))
    return "".join(printed), failed, errors


def _start(host, o, args) -> Output:
    """startContainersWithoutAttachments: each started container's name as given; the failures
    on stderr, then "failed to start containers: a, b" (docker/cli v29.7.2
    cli/command/container/start.go; v27.5.1 prefixes it with "Error: ")."""
    printed, failed, errors = _each(args, host.start)
    if failed:
        prefix = "" if host.engine.major >= 29 else "Error: "
        raise DockerError("\n".join(errors) + f"\n{prefix}failed to start containers: {', '.join(failed)}")
    return Output.of(printed)


def _restart(host, o, args) -> Output:
    """runRestart: each restarted container's name as given; the daemon's errors joined by
    newlines (docker/cli v27.5.1 and v29.7.2 cli/command/container/restart.go)."""
    printed, _, errors = _each(args, host.restart)
    if errors:
        raise DockerError("\n".join(errors))
    return Output.of(printed)


def _logs(host, o, args) -> Output:
    return Output.of(host.logs(args[0]))


def _network_create(host, o, args) -> Output:
    options = {}
    for opt in o["opt"]:
        key, _, value = opt.partition("=")  # the CLI's MapOpts: "-o encrypted" is encrypted=""
        options[key] = value
    net = host.create_network(args[0], driver=o["driver"] or "bridge", subnet=o["subnet"],
                              gateway=o["gateway"], ip_range=o["ip_range"], internal=o["internal"],
                              options=options, attachable=o["attachable"], ipam=o["ipam_driver"] or "default")
    # libnetwork keeps the IpamConf as asked (Network.IpamConfig): 27's inspect prints it as is
    net.ipam_v4_config = {"PreferredPool": o["subnet"] or "", "SubPool": o["ip_range"] or "",
                          "Gateway": o["gateway"] or ""}
    return Output.of(net.id + "\n")


def _network_ls(host, o, args) -> Output:
    """cli/command/network/list.go runList: sorted by name (natural order), then formatted."""
    try:
        return Output.of(output.network_ls(host.listed_networks(), template=o["format"], quiet=o["quiet"],
                                           trunc=not o["no_trunc"]))
    except ValueError as exc:  # formatter.Context.parseFormat
        raise UsageError(f"template parsing error: {exc}") from None


def _network_inspect(host, o, args) -> Output:
    template = _template(o["format"])
    objects = []
    for ref in args:
        net = host.network(ref)
        peers = host.overlay_peers(net) if net.type == "overlay" else None
        objects.append(output.network_inspect(net, host.containers, peers, major=host.engine.major))
    return _formatted(objects, template)


def _network_rm(host, o, args) -> Output:
    return Output.of("".join(host.remove_network(ref) + "\n" for ref in args))


def _network_connect(host, o, args) -> Output:
    """runConnect; ``--gw-priority`` came with docker/cli 28 (v29.7.2 cli/command/network/connect.go:
    an int flag; v27.5.1 has no such flag)."""
    priority = 0
    if o.get("gw_priority") is not None:
        if host.engine.major < 29:
            raise UsageError("unknown flag: --gw-priority\nSee 'docker network connect --help'.")
        priority = _int_flag(o["gw_priority"], "--gw-priority", "network connect")
    host.connect(args[0], args[1], ip=o["ip"], aliases=o["alias"], gw_priority=priority)
    return Output.of("")


def _network_disconnect(host, o, args) -> Output:
    host.disconnect(args[0], args[1])
    return Output.of("")


def _swarm_init(host, o, args) -> Output:
    return Output.of(host.swarm_init(o["advertise_addr"]))


def _swarm_join(host, o, args) -> Output:
    if not o["token"]:
        raise DaemonError("rpc error: code = InvalidArgument desc = A valid join token is necessary to join "
                          "this cluster")
    return Output.of(host.swarm_join(o["token"], args[0]))


def _swarm_leave(host, o, args) -> Output:
    return Output.of(host.swarm_leave(o["force"]))


def _swarm_join_token(host, o, args) -> Output:
    return Output.of(host.join_token(args[0], o["quiet"]))


def _node_ls(host, o, args) -> Output:
    return Output.of(host.node_ls())


def _version(host, o, args) -> Output:
    template = _system_template(host, "version", o)
    data = system.version_data(host)
    if template is None:
        return Output.of(system.version_text(data))
    return Output.of(system.tabwrite(_rendered(template, data)))  # version.go: the tabwriter takes all


def _info(host, o, args) -> Output:
    template = _system_template(host, "info", o)
    data = system.info_data(host)
    if template is None:
        return Output.of(system.info_text(data))
    return Output.of(_rendered(template, data))


def _system_template(host, command: str, o: dict) -> str | None:
    """version/info: a bad flag or an argument, worded by the engine's CLI; then --format
    ("json" is ``{{json .}}``: formatter.JSONFormatKey), parsed first, exit status 64. The
    version template is named "version" (templates.New("version")), info's "" (templates.Parse)."""
    if o["problem"]:
        message, status = system.usage_error(host.engine, command, o["problem"])
        error = UsageError(message)
        error.exit_code = status
        raise error
    template = o["format"]
    if not template:
        return None
    if template == "json":
        template = "{{json .}}"
    try:
        output.check(template)
    except ValueError as exc:
        text = str(exc).replace("template: :", "template: version:", 1) if command == "version" else str(exc)
        error = UsageError(f"template parsing error: {text}")
        error.exit_code = 64
        raise error from None
    return template


def _rendered(template: str, data: dict) -> str:
    try:
        return output.render(template, data)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(f"template parsing error: {exc}") from None


HANDLERS = {
    "version": _version, "info": _info,
    "run": _run, "exec": _exec, "rm": _rm, "ps": _ps, "inspect": _inspect, "port": _port, "stop": _stop,
    "start": _start, "restart": _restart,
    "logs": _logs,
    "network create": _network_create, "network ls": _network_ls, "network inspect": _network_inspect,
    "network rm": _network_rm, "network connect": _network_connect, "network disconnect": _network_disconnect,
    "swarm init": _swarm_init, "swarm join": _swarm_join, "swarm leave": _swarm_leave,
    "swarm join-token": _swarm_join_token, "node ls": _node_ls,
}


def dumps(obj) -> str:
    return json.dumps(obj, indent=4)
