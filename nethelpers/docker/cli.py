"""The docker command line, read as the docker CLI reads it (commands.py then calls the host).

Flags follow pflag's rules (``--name x``, ``--name=x``, ``-dit``, ``-p8080:80``);
``run`` and ``exec`` stop at the first argument (the image or the container), the
rest is the command. Unknown flags and commands get the CLI's own messages.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .. import validate
from ..errors import InvalidValue
from .errors import UsageError
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
    if command in SYSTEM_COMMANDS:
        return _parse_system(command, rest)
    options, args = parse_flags(command, rest)
    if command == "run":  # -p is checked by the CLI (nat.ParsePortSpecs), before the daemon sees it
        options = dict(options, publish=[parse_publish(p) for p in options["publish"]])
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
