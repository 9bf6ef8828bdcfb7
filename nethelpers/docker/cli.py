"""The docker command line: parse it as the docker CLI does, then call the host.

Flags follow pflag's rules (``--name x``, ``--name=x``, ``-dit``, ``-p8080:80``);
``run`` and ``exec`` stop at the first argument (the image or the container), the
rest is the command. Unknown flags and commands get the CLI's own messages.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from .. import validate
from ..errors import InvalidValue
from .errors import DaemonError, DockerError, UsageError
from .model import PortSpec
from .naming import short
from . import output


@dataclass(frozen=True)
class Flag:
    names: tuple[str, ...]   # e.g. ("-d", "--detach")
    kind: str                # "bool", "str" or "list"

    @property
    def dest(self) -> str:
        return self.names[-1].lstrip("-").replace("-", "_")


def F(names: str, kind: str = "bool") -> Flag:
    return Flag(tuple(names.split(",")), kind)


# name -> (usage, (min, max) arguments, flags, interspersed, real flags the lab does not implement)
COMMANDS = {
    "run": ("docker run [OPTIONS] IMAGE [COMMAND] [ARG...]", (1, None), [
        F("-d,--detach"), F("--name", "str"), F("--net,--network", "str"), F("-p,--publish", "list"),
        F("--ip", "str"), F("--rm"), F("--net-alias,--network-alias", "list"), F("-i,--interactive"),
        F("-t,--tty"), F("-e,--env", "list"), F("-h,--hostname", "str"), F("--dns", "list"),
        F("--mac-address", "str")], False,
        "-P --publish-all --ip6 -v --volume --mount --entrypoint -u "
        "--user -w --workdir --privileged --cap-add --cap-drop --add-host --link --sysctl --expose "
        "--restart --label -l --platform --pull --init --memory -m --cpus"),
    "exec": ("docker exec [OPTIONS] CONTAINER COMMAND [ARG...]", (2, None), [
        F("-d,--detach"), F("-i,--interactive"), F("-t,--tty"), F("-e,--env", "list")], False,
        "-u --user -w --workdir --privileged --env-file"),
    "rm": ("docker rm [OPTIONS] CONTAINER [CONTAINER...]", (1, None), [F("-f,--force")], True, "-v --volumes -l --link"),
    "ps": ("docker ps [OPTIONS]", (0, 0), [F("-a,--all"), F("-q,--quiet")], True, "-f --filter --format -n --last "
           "-l --latest --no-trunc -s --size"),
    "inspect": ("docker inspect [OPTIONS] NAME|ID [NAME|ID...]", (1, None), [F("-f,--format", "str")], True,
                "--type -s --size"),
    "port": ("docker port CONTAINER [PRIVATE_PORT[/PROTO]]", (1, 2), [], True, ""),
    "stop": ("docker stop [OPTIONS] CONTAINER [CONTAINER...]", (1, None), [], True, "-t --time -s --signal"),
    "logs": ("docker logs [OPTIONS] CONTAINER", (1, 1), [], True,
             "-f --follow -t --timestamps --since --until -n --tail --details"),
    "network create": ("docker network create [OPTIONS] NETWORK", (1, 1), [
        F("-d,--driver", "str"), F("--subnet", "str"), F("--gateway", "str"), F("--ip-range", "str"),
        F("--internal"), F("-o,--opt", "list"), F("--attachable"), F("--ipam-driver", "str")], True,
        "--aux-address --config-from --config-only --ingress --ipam-opt --ipv6 "
        "--ipv4 --label --scope"),
    "network ls": ("docker network ls [OPTIONS]", (0, 0), [F("-q,--quiet")], True, "-f --filter --format --no-trunc"),
    "network inspect": ("docker network inspect [OPTIONS] NETWORK [NETWORK...]", (1, None),
                        [F("-f,--format", "str")], True, "-v --verbose"),
    "network rm": ("docker network rm NETWORK [NETWORK...]", (1, None), [F("-f,--force")], True, ""),
    "network connect": ("docker network connect [OPTIONS] NETWORK CONTAINER", (2, 2), [
        F("--ip", "str"), F("--alias", "list")], True,
        "--ip6 --link --link-local-ip --driver-opt --gw-priority"),
    "network disconnect": ("docker network disconnect [OPTIONS] NETWORK CONTAINER", (2, 2),
                           [F("-f,--force")], True, ""),
}
COMMANDS.update({
    "swarm init": ("docker swarm init [OPTIONS]", (0, 0), [F("--advertise-addr", "str"), F("--listen-addr", "str")],
                   True, "--autolock --availability --cert-expiry --data-path-addr --data-path-port "
                   "--default-addr-pool --default-addr-pool-mask-length --dispatcher-heartbeat --force-new-cluster "
                   "--max-snapshots --snapshot-interval --task-history-limit --external-ca"),
    "swarm join": ("docker swarm join [OPTIONS] HOST:PORT", (1, 1), [
        F("--token", "str"), F("--advertise-addr", "str"), F("--listen-addr", "str")], True,
        "--availability --data-path-addr"),
    "swarm leave": ("docker swarm leave [OPTIONS]", (0, 0), [F("-f,--force")], True, ""),
    "swarm join-token": ("docker swarm join-token [OPTIONS] (worker|manager)", (1, 1), [F("-q,--quiet")], True,
                         "--rotate"),
    "node ls": ("docker node ls [OPTIONS]", (0, 0), [], True, "-f --filter --format -q --quiet"),
})
ALIASES = {"network remove": "network rm", "network list": "network ls", "container ls": "ps",
           "container rm": "rm", "container inspect": "inspect", "container run": "run",
           "container exec": "exec", "container port": "port", "container stop": "stop",
           "container logs": "logs", "node list": "node ls"}
GROUPS = ("network", "container", "swarm", "node")


class Output(str):
    """What the docker CLI printed; ``exit_code`` is its exit status."""
    exit_code: int = 0

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self).rstrip("\n"))

    @classmethod
    def of(cls, text: str, exit_code: int = 0) -> "Output":
        out = cls(text)
        out.exit_code = exit_code
        return out


def split(command: str | list[str]) -> list[str]:
    """The words of a docker command line: a str split as a shell splits it, or a list of str."""
    if isinstance(command, str):
        words = _shell_words(command)
    elif isinstance(command, (list, tuple)) and all(isinstance(w, str) for w in command):
        words = list(command)
    else:
        hint = " (decode them first: .decode())" if isinstance(command, (bytes, bytearray)) else ""
        raise InvalidValue(f"docker command {command!r:.60} {validate.kind(command)}{hint}; give a str "
                           f"such as 'ps -a', or a list of str such as ['ps', '-a']")
    validate.arguments(["docker", *words], what="docker command")
    if words and words[0] == "docker":
        words = words[1:]
    return words


def _shell_words(text: str) -> list[str]:
    """shlex's split; an unclosed quote is refused, as a shell refuses to run the line at all."""
    try:
        return shlex.split(text)
    except ValueError:
        quote = _open_quote(text)
        if quote is None:  # shlex's "No escaped character": a backslash at the very end
            raise UsageError(f"the docker command line {text!r:.60} ends with a lone backslash; remove it, "
                             f"or quote it ('\\') if docker should get a backslash") from None
        char, at = quote
        example = f", e.g. {text + char!r}" if len(text) < 60 else ""
        raise UsageError(f"the docker command line has a {char} quote that is never closed (at "
                         f"{text[at:at + 20]!r}), so a shell would not even start docker (bash: unexpected "
                         f"EOF while looking for matching `{char}'); close it{example}") from None


def _open_quote(text: str) -> tuple[str, int] | None:
    """The quote left open at the end of ``text`` and where it opens, by POSIX shell rules."""
    quote, at, i = None, 0, 0
    while i < len(text):
        c = text[i]
        escaped = quote is None or (quote == '"' and text[i + 1:i + 2] in ('"', "\\", "$", "`"))
        if c == "\\" and escaped:
            i += 2
            continue
        if quote is None and c in "'\"":
            quote, at = c, i
        elif c == quote:
            quote = None
        i += 1
    return (quote, at) if quote else None


def parse_globals(words: list[str]) -> tuple[str | None, list[str]]:
    """``-H NAME`` / ``--host NAME`` picks the Docker host (dockerd's address in real life)."""
    host = None
    while words and words[0].startswith("-"):
        flag = words.pop(0)
        if flag in ("-H", "--host") and words:
            host = words.pop(0)
        elif flag.startswith("--host="):
            host = flag.split("=", 1)[1]
        else:
            raise UsageError(f"unknown flag: {flag}\nSee 'docker --help'.")
    return host, words


def command_of(words: list[str]) -> tuple[str, list[str]]:
    if not words:
        raise UsageError("Usage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers")
    if words[0] in GROUPS and len(words) > 1:
        name = f"{words[0]} {words[1]}"
        name = ALIASES.get(name, name)
        if name in COMMANDS:
            return name, words[2:]
        raise UsageError(f"docker: '{words[0]} {words[1]}' is not a docker command.\n"
                         f"See 'docker {words[0]} --help'")
    if words[0] in COMMANDS:
        return words[0], words[1:]
    raise UsageError(f"docker: '{words[0]}' is not a docker command.\nSee 'docker --help'"
                     + ("" if words[0] in GROUPS else
                        f"\n(The lab's docker knows: {', '.join(sorted(COMMANDS))}.)"))


def parse_flags(command: str, words: list[str]) -> tuple[dict, list[str]]:
    usage, (minimum, maximum), flags, interspersed, unsupported = COMMANDS[command]
    by_name = {n: f for f in flags for n in f.names}
    values: dict = {f.dest: ([] if f.kind == "list" else (False if f.kind == "bool" else None)) for f in flags}
    args: list[str] = []
    see = f"See 'docker {command} --help'."

    def take(flag: Flag, name: str, inline: str | None, rest: list[str]) -> None:
        if flag.kind == "bool":
            values[flag.dest] = inline is None or inline.lower() in ("true", "1")
            return
        if inline is None:
            if not rest:
                raise UsageError(f"flag needs an argument: {name}\n{see}")
            inline = rest.pop(0)
        if flag.kind == "list":
            values[flag.dest].append(inline)
        else:
            values[flag.dest] = inline

    def unknown(name: str, shown: str) -> UsageError:
        if name in unsupported.split():
            return UsageError(f"docker {command} {name}: a real Docker flag that the lab's Docker host "
                              f"does not implement")
        return UsageError(f"{shown}\n{see}")

    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--":
            args.extend(rest)
            break
        if word.startswith("--") and len(word) > 2:
            name, eq, inline = word.partition("=")
            if name not in by_name:
                raise unknown(name, f"unknown flag: {name}")
            take(by_name[name], name, inline if eq else None, rest)
        elif word.startswith("-") and len(word) > 1:
            letters = word[1:]
            while letters:
                name = "-" + letters[0]
                if name not in by_name:
                    raise unknown(name, f"unknown shorthand flag: '{letters[0]}' in {word}")
                flag = by_name[name]
                if flag.kind == "bool":
                    take(flag, name, None, rest)
                    letters = letters[1:]
                else:
                    take(flag, name, letters[1:].lstrip("=") or None, rest)
                    letters = ""
        else:
            args.append(word)
            if not interspersed:
                args.extend(rest)
                break
    problem = _count_problem(len(args), minimum, maximum)
    if problem:
        raise UsageError(f"\"docker {command}\" {problem}.\n{see}\n\nUsage:  {usage}")
    return values, args


def _count_problem(n: int, minimum: int, maximum: int | None) -> str | None:
    """cobra's argument checks, worded as the docker CLI words them."""
    def plural(k: int) -> str:
        return f"{k} argument{'s' if k != 1 else ''}"

    if maximum == 0 and n:
        return "accepts no arguments"
    if minimum == maximum and n != minimum:
        return f"requires exactly {plural(minimum)}"
    if maximum is not None and not minimum <= n <= maximum:
        return f"requires at least {minimum} and at most {plural(maximum)}"
    if n < minimum:
        return f"requires at least {plural(minimum)}"
    return None


def parse_publish(spec: str) -> PortSpec:
    """``[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]``."""
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise UsageError(f"invalid proto: {proto}")
    parts = text.rsplit(":", 2)
    try:
        container_port = int(parts[-1])
        host_port = int(parts[-2]) if len(parts) >= 2 and parts[-2] else None
    except ValueError:
        raise UsageError(f"invalid containerPort: {parts[-1]}" if not parts[-1].isdigit()
                         else f"invalid hostPort: {parts[-2]}") from None
    host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
    if not 0 < container_port < 65536 or (host_port is not None and not 0 < host_port < 65536):
        raise UsageError(f"invalid port specification: \"{spec}\"")
    if proto == "sctp":
        raise UsageError("the lab's Docker host publishes tcp and udp ports only")
    return PortSpec(container_port, proto, host_ip, host_port)


@dataclass(frozen=True)
class Parsed:
    """A docker command line as the CLI reads it, before any daemon is asked: the command
    ("run", "network create", ...), its flags by name and its arguments."""
    command: str
    options: dict
    args: list


def parse(words: list[str]) -> Parsed:
    """Read a command line (after the global flags): UsageError as the docker CLI gives it."""
    command, rest = command_of(words)
    options, args = parse_flags(command, rest)
    if command == "run":  # -p is checked by the CLI (nat.ParsePortSpecs), before the daemon sees it
        options = dict(options, publish=[parse_publish(p) for p in options["publish"]])
    return Parsed(command, options, args)


def execute(host, words: "list[str] | Parsed") -> Output:
    """Run one docker command line against ``host`` (a DockerHost)."""
    parsed = words if isinstance(words, Parsed) else parse(words)
    handler = HANDLERS[parsed.command]
    try:
        return handler(host, parsed.options, parsed.args)
    except DaemonError as exc:
        if parsed.command != "run":
            raise
        # the docker 27 CLI reports the daemon's refusal to `run` with its own prefix and a hint
        raise DockerError(f"docker: {str(exc).rstrip('.')}.\nSee 'docker run --help'.") from None


# --- one function per command -----------------------------------------------------------
def _run(host, o, args) -> Output:
    image, command = args[0], args[1:]
    ctr, printed = host.run(image, command, env=o["env"], name=o["name"], detach=o["detach"], network=o["network"],
                          publish=o["publish"], ip=o["ip"], auto_remove=o["rm"], aliases=o["network_alias"],
                          keep_open=o["interactive"] or o["tty"], hostname=o["hostname"], dns=o["dns"],
                          mac_address=o["mac_address"])
    return Output.of(printed, 0 if o["detach"] else ctr.exit_code or 0)


def _exec(host, o, args) -> Output:
    command = args[1:]
    if o["env"]:
        command = ["env", *o["env"], *command]
    text, exit_code = host.exec(args[0], command, detach=o["detach"])
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
    host._reap()
    containers = list(host.containers.values())
    if o["quiet"]:
        return Output.of("".join(short(c.id) + "\n" for c in reversed(containers) if o["all"] or c.running))
    return Output.of(output.ps(containers, o["all"]))


def _inspect(host, o, args) -> Output:
    template = _template(o["format"])
    objects = []
    for ref in args:
        try:
            ctr = host.container(ref)
            sandbox = "/var/run/docker/netns/default" if ctr.network_mode == "host" else f"/run/netns/{ctr.node}"
            objects.append(output.container_inspect(ctr, sandbox))
        except DockerError:
            try:
                net = host.network(ref)
            except DockerError:
                raise DockerError(f"Error: No such object: {ref}") from None
            objects.append(output.network_inspect(
                net, host.containers, host.overlay_peers(net) if net.type == "overlay" else None))
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
    ctr = host.container(args[0])
    text = output.port_lines(ctr, args[1] if len(args) > 1 else None)
    if len(args) > 1 and not text:
        raise DockerError(f"Error: No public port '{args[1]}' published for {ctr.name}")
    return Output.of(text)


def _stop(host, o, args) -> Output:
    return Output.of("".join(host.stop(ref) + "\n" for ref in args))


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
    return Output.of(net.id + "\n")


def _network_ls(host, o, args) -> Output:
    if o["quiet"]:
        return Output.of("".join(short(n.id) + "\n" for n in sorted(host.listed_networks(), key=lambda n: n.name)))
    return Output.of(output.network_ls(host.listed_networks()))


def _network_inspect(host, o, args) -> Output:
    template = _template(o["format"])
    objects = []
    for ref in args:
        net = host.network(ref)
        peers = host.overlay_peers(net) if net.type == "overlay" else None
        objects.append(output.network_inspect(net, host.containers, peers))
    return _formatted(objects, template)


def _network_rm(host, o, args) -> Output:
    return Output.of("".join(host.remove_network(ref) + "\n" for ref in args))


def _network_connect(host, o, args) -> Output:
    host.connect(args[0], args[1], ip=o["ip"], aliases=o["alias"])
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


HANDLERS = {
    "run": _run, "exec": _exec, "rm": _rm, "ps": _ps, "inspect": _inspect, "port": _port, "stop": _stop,
    "logs": _logs,
    "network create": _network_create, "network ls": _network_ls, "network inspect": _network_inspect,
    "network rm": _network_rm, "network connect": _network_connect, "network disconnect": _network_disconnect,
    "swarm init": _swarm_init, "swarm join": _swarm_join, "swarm leave": _swarm_leave,
    "swarm join-token": _swarm_join_token, "node ls": _node_ls,
}


def dumps(obj) -> str:
    return json.dumps(obj, indent=4)
