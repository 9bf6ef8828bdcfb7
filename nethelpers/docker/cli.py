"""The docker command line, read as the docker CLI reads it (commands.py then calls the host).

Flags follow pflag's rules (``--name x``, ``--name=x``, ``-dit``, ``-p8080:80``);
``run`` and ``exec`` stop at the first argument (the image or the container), the
rest is the command. Unknown flags and commands get the CLI's own messages.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass

from .. import validate
from ..errors import InvalidValue
from .errors import DaemonError, DockerError, UsageError
from .model import PortSpec


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
        F("--mac-address", "str"), F("--cap-add", "list"), F("--cap-drop", "list"), F("--privileged")], False,
        "-P --publish-all --ip6 -v --volume --mount --entrypoint -u "
        "--user -w --workdir --add-host --link --sysctl --expose "
        "--restart --label -l --platform --pull --init --memory -m --cpus"),
    "exec": ("docker exec [OPTIONS] CONTAINER COMMAND [ARG...]", (2, None), [
        F("-d,--detach"), F("-i,--interactive"), F("-t,--tty"), F("-e,--env", "list"), F("--privileged")], False,
        "-u --user -w --workdir --env-file"),
    "rm": ("docker rm [OPTIONS] CONTAINER [CONTAINER...]", (1, None), [F("-f,--force")], True, "-v --volumes -l --link"),
    "ps": ("docker ps [OPTIONS]", (0, 0), [F("-a,--all"), F("-q,--quiet"), F("--format", "str"), F("--no-trunc"),
                                          F("-n,--last", "str"), F("-l,--latest")], True, "-f --filter -s --size"),
    "inspect": ("docker inspect [OPTIONS] NAME|ID [NAME|ID...]", (1, None), [F("-f,--format", "str")], True,
                "--type -s --size"),
    "port": ("docker port CONTAINER [PRIVATE_PORT[/PROTO]]", (1, 2), [], True, ""),
    "stop": ("docker stop [OPTIONS] CONTAINER [CONTAINER...]", (1, None), [], True, "-t --time -s --signal"),
    "start": ("docker start [OPTIONS] CONTAINER [CONTAINER...]", (1, None), [], True,
              "-a --attach -i --interactive --detach-keys --checkpoint --checkpoint-dir"),
    "restart": ("docker restart [OPTIONS] CONTAINER [CONTAINER...]", (1, None), [], True,
                "-t --time --timeout -s --signal"),
    "logs": ("docker logs [OPTIONS] CONTAINER", (1, 1), [], True,
             "-f --follow -t --timestamps --since --until -n --tail --details"),
    "network create": ("docker network create [OPTIONS] NETWORK", (1, 1), [
        F("-d,--driver", "str"), F("--subnet", "str"), F("--gateway", "str"), F("--ip-range", "str"),
        F("--internal"), F("-o,--opt", "list"), F("--attachable"), F("--ipam-driver", "str")], True,
        "--aux-address --config-from --config-only --ingress --ipam-opt --ipv6 "
        "--ipv4 --label --scope"),
    "network ls": ("docker network ls [OPTIONS]", (0, 0), [F("-q,--quiet"), F("--format", "str"), F("--no-trunc")],
                   True, "-f --filter"),
    "network inspect": ("docker network inspect [OPTIONS] NETWORK [NETWORK...]", (1, None),
                        [F("-f,--format", "str")], True, "-v --verbose"),
    "network rm": ("docker network rm NETWORK [NETWORK...]", (1, None), [F("-f,--force")], True, ""),
    "network connect": ("docker network connect [OPTIONS] NETWORK CONTAINER", (2, 2), [
        F("--ip", "str"), F("--alias", "list"), F("--gw-priority", "str")], True,
        "--ip6 --link --link-local-ip --driver-opt"),
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
# the CLI's own commands: their flag and argument errors are worded as the CLI of the host's engine
# words them (27 and 29 differ), so parse() records them and commands.py raises them (system.py)
SYSTEM_COMMANDS = {
    "version": ("docker version [OPTIONS]", (0, 0), [F("-f,--format", "str")], True, ""),
    "info": ("docker info [OPTIONS]", (0, 0), [F("-f,--format", "str")], True, ""),
}
COMMANDS.update(SYSTEM_COMMANDS)
ALIASES = {"network remove": "network rm", "network list": "network ls", "container ls": "ps",
           "container rm": "rm", "container inspect": "inspect", "container run": "run",
           "container exec": "exec", "container port": "port", "container stop": "stop",
           "container start": "start", "container restart": "restart",
           "container logs": "logs", "node list": "node ls", "system info": "info"}
GROUPS = ("network", "container", "swarm", "node", "system")


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
    """The words a shell makes of the line (shlex's split: a ``#`` that starts a word starts a comment);
    an unclosed quote is refused, as a shell refuses to run the line at all."""
    try:
        return shlex.split(text, comments=True)
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


@dataclass
class PublishSpec(PortSpec):
    """One binding of a ``-p``, as nat.ParsePortSpec makes it: ``host_ip`` "" when none is
    given (the network's host_binding_ipv4 then applies), ``host_port`` None when none is given,
    ``host_port`` .. ``host_port_end`` for ``-p 8080-8090:80`` (one port of the range is taken)."""
    host_port_end: int | None = None

    def binding(self) -> dict:
        """As libnetwork's PortBinding: HostPort..HostPortEnd (the daemon's
        nat.ParsePortRangeToInt of the HostPort string)."""
        return {**super().binding(), "HostPortEnd": self.host_port_end or self.host_port}

    @property
    def host_port_text(self) -> str:
        """The HostPort string of HostConfig.PortBindings ("", "8080" or "8080-8090")."""
        if self.host_port is None:
            return ""
        return f"{self.host_port}-{self.host_port_end}" if self.host_port_end not in (None, self.host_port) \
            else str(self.host_port)


_DIGITS = frozenset("0123456789")


def _port_range(text: str, major: int) -> tuple[int, int]:
    """go-connections/nat's port range parser as each CLI vendors it (ValueError when refused):
    v27.5.1 ParsePortRange (strconv.ParseUint(s, 10, 16), split on every "-", parts 0 and 1
    used); v29.7.2 parsePortRange (strings.Cut on the first "-", parsePortNumber:
    strconv.ParseInt(s, 10, 0) in 0-65535, so a leading "+" is taken)."""
    if text == "":
        raise ValueError("empty string specified for ports")

    def number(word: str) -> int:
        digits = word[1:] if major >= 29 and word[:1] in ("+", "-") else word
        if not digits or not set(digits) <= _DIGITS:
            raise ValueError(word)
        value = -int(digits) if word[:1] == "-" and major >= 29 else int(digits)
        if not 0 <= value <= 65535:
            raise ValueError(word)
        return value

    if major >= 29:
        first, dash, last = text.partition("-")
        start = number(first)
        if not dash or first == last:
            return start, start
        end = number(last)
    else:
        if "-" not in text:
            return number(text), number(text)
        parts = text.split("-")
        start, end = number(parts[0]), number(parts[1])
    if end < start:
        raise ValueError(text)
    return start, end


def _split_proto(text: str, major: int) -> tuple[str, str]:
    """SplitProtoPort: (proto, port); ("", "") when there is no port."""
    if major >= 29:
        port, _, proto = text.partition("/")
        return ("", "") if port == "" else (proto or "tcp", port)
    parts = text.split("/")
    if text == "" or parts[0] == "":
        return "", ""
    if len(parts) == 1:
        return "tcp", text
    return (parts[1] or "tcp"), parts[0]


def _go_parse_ip(text: str) -> str | None:
    """net.ParseIP: an IPv4 or IPv6 address (no zone, no leading zeros), or None."""
    if "%" in text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_port_spec(raw: str, major: int = 29) -> list[PublishSpec]:
    """One ``-p [IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO]`` read as go-connections/nat
    ParsePortSpec reads it in the docker CLI of Docker ``major`` (docker/cli v27.5.1 and
    v29.7.2, vendor/github.com/docker/go-connections/nat/nat.go): a container range gives one
    binding per port, a host range with one container port one binding that takes a port of
    the range. UsageError with nat's words, in the order each version checks."""
    parts = raw.split(":")
    if len(parts) == 1:
        ip, host_port, container = "", "", parts[0]
    elif len(parts) == 2:
        ip, host_port, container = "", parts[0], parts[1]
    else:
        ip, host_port, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    proto, container = _split_proto(container, major)

    def check_ip() -> str:
        address = ip
        if address.startswith("["):  # net.SplitHostPort(ip + ":") strips IPv6 brackets
            close = address.find("]")
            if close < 0:
                raise UsageError(f"invalid IP address {ip}: address {ip}:: missing ']' in address")
            if close != len(address) - 1:
                raise UsageError(f"invalid IP address {ip}: address {ip}:: "
                                 + ("too many colons in address" if address[close + 1] == ":"
                                    else "missing port in address"))
            address = address[1:close]
        if address and _go_parse_ip(address) is None:
            raise UsageError(f"invalid IP address: {address}")
        return address

    def check_proto() -> None:
        if proto.lower() not in ("tcp", "udp", "sctp"):
            raise UsageError(f"invalid proto: {proto.lower() if major >= 29 else proto}")

    if major >= 29:
        if container == "":
            raise UsageError(f"no port specified: {raw}<empty>")
        check_proto()
        ip = check_ip()
    else:
        ip = check_ip()
        if container == "":
            raise UsageError(f"no port specified: {raw}<empty>")
    try:
        start, end = _port_range(container, major)
    except ValueError:
        raise UsageError(f"invalid containerPort: {container}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = _port_range(host_port, major)
        except ValueError:
            raise UsageError(f"invalid hostPort: {host_port}") from None
        if end - start != host_end - host_start and end != start:
            raise UsageError(f"invalid ranges specified for container and host Ports: {container} and {host_port}")
    if major < 29:
        check_proto()
    proto = proto.lower()
    specs = []
    for i in range(end - start + 1):
        if not host_port:
            host, host_last = None, None
        elif start == end and host_start != host_end:
            host, host_last = host_start, host_end
        else:
            host, host_last = host_start + i, None
        specs.append(PublishSpec(start + i, proto, ip, host, host_last))
    return specs


def publish_specs(specs: list[str], major: int = 29) -> list[PublishSpec]:
    """All the ``-p`` of a ``docker run`` (nat.ParsePortSpecs), then the daemon's check of each
    container port (docker-v29.7.2 daemon/container.go validatePortBindings: port 0 is refused;
    v27.5.1 lets it through to the driver, which the lab does not: it refuses it likewise)."""
    result: list[PublishSpec] = []
    for raw in specs:
        result.extend(parse_port_spec(raw, major))
    for spec in result:
        if spec.container_port == 0:
            raise DaemonError(f'invalid port specification: "0/{spec.proto}"')
        if ":" in spec.host_ip:
            raise UsageError(f"-p {spec.host_ip}: the lab's Docker hosts are IPv4-only, so they publish ports on "
                             f"IPv4 host addresses only")
    return result


PUBLISH_MAJORS = (27, 29)


def _publish_options(specs: list[str]) -> dict:
    """``publish`` as the CLI of either engine reads it. Where the 27 and 29 CLIs read a spec
    differently (error order, "1-2-3", "+80", "80/tcp/x", the proto's case in the message),
    ``publish_by_engine`` keeps both outcomes for :func:`publish_for`, and ``publish`` is the
    default engine's."""
    from .engines import DEFAULT_VERSION

    outcomes: dict = {}
    for major in PUBLISH_MAJORS:
        try:
            outcomes[major] = publish_specs(specs, major)
        except DockerError as exc:
            outcomes[major] = exc
    chosen = outcomes[int(DEFAULT_VERSION.split(".")[0])]
    if isinstance(chosen, BaseException):
        raise chosen
    return {"publish": chosen, "publish_by_engine": outcomes}


def publish_for(options: dict, engine) -> list[PublishSpec]:
    """The ``-p`` bindings of a parsed ``run`` as the CLI of ``engine`` (an engines.Engine)
    reads them; raises that CLI's error when it refuses them."""
    outcomes = options.get("publish_by_engine") or {}
    outcome = outcomes.get(engine.major, options.get("publish", []))
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def parse_publish(spec: str) -> PublishSpec:
    """One ``-p`` that makes one binding (as the Docker 29 CLI reads it)."""
    (result,) = publish_specs([spec], 29)
    return result


def _network_create_checks(options: dict) -> None:
    """What the CLI checks of --subnet/--ip-range/--gateway before it sends the request
    (docker/cli v27.5.1 cli/command/network/create.go consolidateIpam and subnetMatches;
    v29.7.2 createIPAMConfig, the same words): a range or gateway needs a subnet, and its
    address must be in one."""
    subnet, ip_range, gateway = options.get("subnet"), options.get("ip_range"), options.get("gateway")
    if (ip_range or gateway) and not subnet:
        raise UsageError("every ip-range or gateway must have a corresponding subnet")
    try:
        network = ipaddress.ip_network(subnet, strict=False) if subnet else None
    except ValueError:
        return  # the daemon's check words it (ipam_config.parse_subnet)
    for what, value in (("range", ip_range), ("gateway", gateway)):
        if not value or network is None:
            continue
        address = value.split("/")[0] if what == "range" else value
        try:
            inside = ipaddress.ip_address(address) in network
        except ValueError:
            continue
        if not inside:
            raise UsageError(f"no matching subnet for {what} {value}")


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
    if command in SYSTEM_COMMANDS:
        return _parse_system(command, rest)
    options, args = parse_flags(command, rest)
    if command == "run":  # -p is checked by the CLI (nat.ParsePortSpecs), before the daemon sees it
        options = dict(options, **_publish_options(options["publish"]))
    elif command == "network create":
        _network_create_checks(options)
    return Parsed(command, options, args)


def _parse_system(command: str, words: list[str]) -> Parsed:
    """``version`` / ``info``: ``-f/--format``, no arguments. A problem is kept in
    ``options["problem"]`` (pflag's words, or ("args",) for cobra's NoArgs), for the
    handler to word as the engine's CLI does."""
    options: dict = {"format": None, "problem": None}
    args: list[str] = []
    rest = list(words)
    while rest and options["problem"] is None:
        word = rest.pop(0)
        if word == "--":
            args.extend(rest)
            break
        if word.startswith("--") and len(word) > 2:
            name, eq, inline = word.partition("=")
            if name != "--format":
                options["problem"] = ("flag", f"unknown flag: {name}")
            elif eq:
                options["format"] = inline
            elif rest:
                options["format"] = rest.pop(0)
            else:
                options["problem"] = ("flag", f"flag needs an argument: {name}")
        elif word.startswith("-") and len(word) > 1:
            if word[1] != "f":
                options["problem"] = ("flag", f"unknown shorthand flag: '{word[1]}' in {word}")
            elif len(word) > 2:
                options["format"] = word[2:].removeprefix("=")
            elif rest:
                options["format"] = rest.pop(0)
            else:
                options["problem"] = ("flag", f"flag needs an argument: 'f' in {word}")
        else:
            args.append(word)
    if options["problem"] is None and args:
        options["problem"] = ("args",)
    return Parsed(command, options, args)
