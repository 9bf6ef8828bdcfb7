"""What the docker CLI prints: tables, ``inspect`` JSON, ``port`` lines, ``--format``."""

from __future__ import annotations

import json
import re

from . import netinfo
from .model import Container
from .naming import short


def table(header: list[str], rows: list[list[str]]) -> str:
    """Columns as Go's tabwriter lays them out for the docker CLI (3 spaces of padding)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["   ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines) + "\n"


def network_ls(networks: list) -> str:
    rows = [[short(n.id), n.name, n.type, netinfo.scope(n)] for n in sorted(networks, key=lambda n: n.name)]
    return table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows)


def ps(containers: list[Container], all_: bool) -> str:
    rows = []
    for c in reversed(containers):  # newest first
        running = c.running
        if not running and not all_:
            continue
        age = human_duration(c.created)
        status = f"Up {age}" if running else \
            f"Exited ({c.exit_code or 0}) {human_duration(c.finished or c.created)} ago"
        shown = " ".join(c.shown_command)  # docker-cli's Ellipsis(command, 20): 19 characters and "…"
        command = '"' + (shown if len(shown) <= 20 else shown[:19] + "…") + '"'
        image = c.image if c.tag == "latest" else f"{c.image}:{c.tag}"
        rows.append([short(c.id), image, command, f"{age} ago", status, port_summary(c), c.name])
    return table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows)


def human_duration(since: str) -> str:
    """Docker's go-units HumanDuration of the time since ``since`` (an inspect timestamp)."""
    import datetime

    started = datetime.datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    seconds = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return f"{int(seconds)} second{'s' if int(seconds) != 1 else ''}"
    minutes = int(seconds // 60)
    if minutes < 2:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds // 3600)
    return "About an hour" if hours < 2 else f"{hours} hours"


def port_summary(c: Container) -> str:
    return ", ".join(f"{pm.host_ip}:{pm.host_port}->{pm.container_port}/{pm.proto}" for pm in c.port_mappings())


def port_lines(c: Container, wanted: str | None) -> str:
    lines = []
    for pm in c.port_mappings():
        key = f"{pm.container_port}/{pm.proto}"
        if wanted in (None, key) or wanted == str(pm.container_port) and pm.proto == "tcp":
            lines.append(f"{key} -> {pm.host_ip}:{pm.host_port}")
    return "".join(line + "\n" for line in lines)


def network_inspect(net, containers: dict[str, Container], peers: list | None = None) -> dict:
    """``docker network inspect``; ``peers``: an overlay's hosts (NetworkDB's view)."""
    config = []
    if net.subnet is not None:
        entry = {"Subnet": net.subnet}
        if net.ip_range is not None:
            entry["IPRange"] = net.ip_range
        entry["Gateway"] = net.gateway_ip
        config.append(entry)
    by_id = {c.id: c for c in containers.values()}
    members = {}
    for ep in net.endpoints.values():
        cid = ep.sandbox.container_id if ep.sandbox is not None else ep.id
        # docker_gwbridge's endpoints are libnetwork's "gateway_<sandbox id>" ones
        name = ep.name if ep.name.startswith("gateway_") or cid not in by_id else by_id[cid].name
        members[cid] = {"Name": name, "EndpointID": ep.id, "MacAddress": ep.mac,
                        "IPv4Address": ep.cidr, "IPv6Address": ""}
    inspect = {
        "Name": net.name, "Id": net.id, "Created": net.created, "Scope": netinfo.scope(net), "Driver": net.type,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if netinfo.is_default(net) else {}, "Config": config},
        "Internal": net.internal, "Attachable": netinfo.attachable(net), "Ingress": netinfo.ingress(net),
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": members, "Options": dict(net.options), "Labels": {},
    }
    if peers:
        inspect["Peers"] = peers
    return inspect


NEVER = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as the API prints a time not reached


def container_inspect(c: Container, sandbox_key: str) -> dict:
    """``docker inspect`` of a container."""
    ports: dict[str, list | None] = {}
    for spec in c.publish:
        ports.setdefault(f"{spec.container_port}/{spec.proto}", [])
    for pm in c.port_mappings():
        ports[f"{pm.container_port}/{pm.proto}"].append({"HostIp": pm.host_ip, "HostPort": str(pm.host_port)})
    networks = {}
    for name, ep in c.endpoints.items():
        net = ep.network
        networks[name] = {
            "IPAMConfig": {"IPv4Address": ep.requested_ip} if ep.requested_ip else None,
            "Links": None,
            "Aliases": list(ep.aliases) or None,
            "MacAddress": ep.mac,
            "DriverOpts": None,
            "NetworkID": net.id,
            "EndpointID": ep.id,
            "Gateway": "" if net.internal or ep.ip is None else net.gateway_ip,
            "IPAddress": str(ep.ip) if ep.ip is not None else "",
            "IPPrefixLen": int(net.subnet.split("/")[1]) if net.subnet and ep.ip is not None else 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DNSNames": [c.name, *ep.aliases, short(c.id)] if netinfo.user_defined(net) else None,
        }
    for name in c.left_networks:
        networks.setdefault(name, {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "",
                                   "DriverOpts": None, "NetworkID": "", "EndpointID": "", "Gateway": "",
                                   "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                                   "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None})
    legacy = c.endpoints.get("bridge")
    running = c.running
    settings = {
        "Bridge": "", "SandboxID": c.id, "SandboxKey": sandbox_key,
        "Ports": ports, "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "EndpointID": legacy.id if legacy else "",
        "Gateway": legacy.network.gateway_ip if legacy else "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": str(legacy.ip) if legacy else "",
        "IPPrefixLen": int(legacy.network.subnet.split("/")[1]) if legacy else 0,
        "IPv6Gateway": "",
        "MacAddress": legacy.mac if legacy else "",
        "Networks": networks,
    }
    return {
        "Id": c.id, "Created": c.created, "Path": c.shown_command[0], "Args": c.shown_command[1:],
        # moby api/types/container State (docker-v29.7.2 container.go; v27.5.1 types.go ContainerState)
        "State": {"Status": "running" if running else "exited", "Running": running, "Paused": False,
                  "Restarting": False, "OOMKilled": False, "Dead": False,
                  "Pid": (c.process.pid or 0) if running else 0,
                  "ExitCode": 0 if running else (c.exit_code or 0), "Error": "",
                  "StartedAt": c.created, "FinishedAt": NEVER if running else (c.finished or c.created)},
        "Image": c.image if c.tag == "latest" else f"{c.image}:{c.tag}",
        "Name": "/" + c.name,
        "HostConfig": {"NetworkMode": c.network_mode, "AutoRemove": c.auto_remove, "Dns": list(c.dns),
                       "PortBindings": {f"{s.container_port}/{s.proto}":
                                        [{"HostIp": s.host_ip, "HostPort": str(s.host_port or "")}]
                                        for s in c.publish}},
        "Config": {"Hostname": c.hostname or short(c.id), "Image": c.image, "Cmd": c.shown_command,
                   "ExposedPorts": {f"{s.container_port}/{s.proto}": {} for s in c.publish} or None},
        "NetworkSettings": settings,
    }


def as_json(objects: list[dict]) -> str:
    return json.dumps(objects, indent=4) + "\n"


# --- --format: the small part of Go templates that tutorials use ---------------------------
_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")


def check(template: str) -> None:
    """Raise ValueError with Go's text/template message for the parse errors a --format can
    have here: an action never closed, an empty one, {{end}}/{{else}} without a block, a block
    without {{end}} (go/src/text/template/parse: lex.go, parse.go)."""
    depth, pos = 0, 0
    while (start := template.find("{{", pos)) >= 0:
        close = template.find("}}", start + 2)
        if close < 0:
            line, opened = _line(template, len(template)), _line(template, start)
            raise ValueError(f"template: :{line}: unclosed action"
                             + (f" started at :{opened}" if opened != line else ""))
        words = template[start + 2:close].strip("- \t\r\n").split()
        if words and words[0].startswith("/*"):
            pass  # a comment
        elif not words:
            raise ValueError(f"template: :{_line(template, close)}: missing value for command")
        elif words[0] in ("range", "if", "with"):
            depth += 1
        elif words[0] in ("end", "else") and depth == 0:
            raise ValueError(f"template: :{_line(template, close)}: unexpected {{{{{words[0]}}}}}")
        elif words[0] == "end":
            depth -= 1
        pos = close + 2
    if depth:
        raise ValueError(f"template: :{_line(template, len(template))}: unexpected EOF")


def _line(text: str, at: int) -> int:
    return 1 + text.count("\n", 0, at)


def render(template: str, obj: dict) -> str:
    """``{{.A.B}}``, ``{{json .A}}``, ``{{index .A "k"}}``, ``{{range .A}}...{{end}}``, ``{{println}}``."""
    template = template.replace("\\n", "\n")
    out, _ = _render(_ACTION.split(template), 0, obj)
    return out + "\n"


def _render(parts: list[str], i: int, dot) -> tuple[str, int]:
    out = []
    while i < len(parts):
        text = parts[i]
        if i % 2 == 0:
            out.append(text)
            i += 1
            continue
        if text == "end":
            return "".join(out), i + 1
        if text.startswith("/*"):  # a comment
            i += 1
            continue
        if text.startswith("range "):
            items = _value(text[6:].strip(), dot)
            body_start = i + 1
            end = body_start
            rendered = []
            for item in (items.values() if isinstance(items, dict) else items or []):
                chunk, end = _render(parts, body_start, item)
                rendered.append(chunk)
            if not rendered:
                _, end = _render(parts, body_start, {})
            out.append("".join(rendered))
            i = end
            continue
        out.append(_format(_eval(text, dot)))
        i += 1
    return "".join(out), i


def _eval(expr: str, dot):
    words = re.findall(r'"[^"]*"|\S+', expr)
    if words[0] == "json":  # as Go's encoding/json: compact, with <, > and & escaped
        text = json.dumps(_value(words[1], dot), separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if words[0] == "index":
        value = _value(words[1], dot)
        for key in words[2:]:
            value = value[key.strip('"')] if isinstance(value, dict) else value[int(key)]
        return value
    if words[0] == "println":
        return "\n" if len(words) == 1 else " ".join(_format(_value(w, dot)) for w in words[1:]) + "\n"
    if len(words) != 1:
        raise ValueError(f"template: the lab understands .Field, json, index, range and println, not {expr!r}")
    return _value(words[0], dot)


def _value(path: str, dot):
    if path == ".":
        return dot
    value = dot
    for key in path.lstrip(".").split("."):
        if not isinstance(value, dict) or key not in value:
            raise ValueError(f"template: can't evaluate field {key}")
        value = value[key]
    return value


def _format(value) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_format(v)}" for k, v in value.items()) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_format(v) for v in value) + "]"
    return str(value)
