"""What the docker CLI prints: tables, ``port`` lines, ``network inspect``, ``--format``
(``docker inspect`` of a container: :mod:`.inspect`).

Tables are docker/cli's: ``formatter.Context`` (cli/command/formatter/formatter.go) runs a
template per row and hands the rows to its tabwriter (``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)``:
cells at least 10 wide, 3 spaces of padding, the last cell of a line never padded).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import unicodedata

from . import netinfo
from .model import Container
from .naming import short


# --- Go's tabwriter, as docker/cli's fork of it lays out a table ----------------------------
def _width(text: str) -> int:
    """go-runewidth's StringWidth: East Asian wide and full-width runes count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """``text`` (lines of tab-terminated cells) through text/tabwriter's elastic tabstops
    (cli/command/formatter/tabwriter/tabwriter.go: format, writeLines; flags 0, pad ' ')."""
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []

    def write_lines(widths: list[int], line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, cell in enumerate(cells):
                out.append(cell)
                if j < len(widths) and j < len(cells) - 1:
                    out.append(" " * (widths[j] - _width(cell)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(widths: list[int], line0: int, line1: int) -> None:
        column, this = len(widths), line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(widths, line0, this)
            line0, width = this, minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, _width(lines[this][column]) + padding)
                this += 1
            fmt([*widths, width], line0, this)
            line0 = this
        write_lines(widths, line0, line1)

    fmt([], 0, len(lines))
    return "".join(out)


def table(header: list[str], rows: list[list[str]]) -> str:
    """Columns as the docker CLI's tabwriter lays them out."""
    return tabwrite("".join("\t".join(str(c) for c in row) + "\n" for row in [header, *rows]))


def formatted_list(template: str, items: list[dict], headers: dict) -> str:
    """A list command's ``--format`` (formatter.Format.templateString, Context.Write): "table
    TEMPLATE" gets a header row (the template run on the header names) and the tabwriter; any
    other template is run once per item, each followed by a newline."""
    is_table = template.startswith("table")
    body = template[len("table"):] if is_table else template
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    if template == "json":
        body = "{{json .}}"
    rows = "".join(_render_raw(body, Fields(item)) + "\n" for item in items)
    if not is_table:
        return rows
    return tabwrite(_render_raw(body, Fields(headers)) + "\n" + rows)


# --- docker/cli helpers ------------------------------------------------------------------
def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable runes kept, \\a\\b\\f\\n\\r\\t\\v, \\xNN below 0x80, \\u/\\U above."""
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}
    out = []
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def ellipsis(text: str, max_width: int) -> str:
    """formatter.Ellipsis (cli/command/formatter/displayutils.go): cut to ``max_width`` display
    columns, the last one an "…"."""
    if max_width <= 0:
        return ""
    if max_width == 1:
        return text[:1]
    if _width(text) <= max_width:
        return text
    total = 0
    for i, ch in enumerate(text):
        total += _width(ch)
        if total > max_width - 1:
            return text[:i] + "…"
    return text


def natural_less(a: str, b: str) -> bool:
    """github.com/fvbommel/sortorder NaturalLess (natsort.go): runs of digits compare as numbers."""
    i = j = 0
    while i < len(a) and j < len(b):
        da, db = a[i].isdigit() and a[i].isascii(), b[j].isdigit() and b[j].isascii()
        if da != db:
            return da
        if not da:
            if a[i] != b[j]:
                return a[i].encode() < b[j].encode()
            i, j = i + 1, j + 1
            continue
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        nz_a, nz_b = i, j
        while i < len(a) and a[i].isdigit() and a[i].isascii():
            i += 1
        while j < len(b) and b[j].isdigit() and b[j].isascii():
            j += 1
        if i - nz_a != j - nz_b:
            return i - nz_a < j - nz_b
        if a[nz_a:i] != b[nz_b:j]:
            return a[nz_a:i] < b[nz_b:j]
        if nz_a != nz_b:
            return nz_a < nz_b
    return len(a) < len(b)


def natural_key(text: str):
    import functools

    class _Key:
        def __init__(self, s):
            self.s = s

        def __lt__(self, other):
            return natural_less(self.s, other.s)
    return functools.total_ordering(_Key)(text)


def join_host_port(host: str, port) -> str:
    """Go's net.JoinHostPort: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_time(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration (duration.go, vendored by docker/cli at both tags)."""
    if int(seconds) < 1:
        return "Less than a second"
    if int(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def _since(stamp: str, *, whole_seconds: bool = False) -> float:
    when = _parse_time(stamp)
    if whole_seconds:  # RunningFor: time.Unix(c.Created, 0), the API's Created in whole seconds
        when = when.replace(microsecond=0)
    return (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()


# --- docker ps ---------------------------------------------------------------------------
PS_HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
              "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
              "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
              "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
              "HealthStatus": "HEALTH STATUS"}  # formatter/container.go NewContainerContext
DEFAULT_PS_FORMAT = "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}"


def container_summary(c: Container, inspect: dict) -> dict:
    """What GET /containers/json gives for ``c`` (moby View.transform: daemon/container/view.go
    at docker-v29.7.2, container/view.go at v27.5.1), from its inspect data."""
    args = inspect["Args"]
    command = inspect["Path"] + (" " + " ".join(f"'{a}'" if " " in a else a for a in args) if args else "")
    ports = []
    for key, bindings in inspect["NetworkSettings"]["Ports"].items():
        number, proto = key.split("/")
        if not bindings:
            ports.append({"IP": "", "PrivatePort": int(number), "PublicPort": 0, "Type": proto})
        for b in bindings or []:
            ports.append({"IP": b["HostIp"], "PrivatePort": int(number), "PublicPort": int(b["HostPort"]),
                          "Type": proto})
    state = inspect["State"]
    if state["Running"]:
        status = "Up " + human_duration(_since(state["StartedAt"]))
    else:
        status = f"Exited ({state['ExitCode']}) {human_duration(_since(state['FinishedAt']))} ago"
    return {"Id": c.id, "Names": ["/" + c.name], "Image": inspect["Config"]["Image"], "ImageID": inspect["Image"],
            "Command": command, "Created": inspect["Created"], "Ports": ports, "Labels": inspect["Config"]["Labels"],
            "State": state["Status"], "Status": status, "Networks": list(inspect["NetworkSettings"]["Networks"])}


def ps_fields(summary: dict, trunc: bool, major: int) -> dict:
    """The ContainerContext fields a ps template reads (formatter/container.go)."""
    created = _parse_time(summary["Created"]).replace(microsecond=0)
    labels = summary["Labels"] or {}
    return {
        "ID": short(summary["Id"]) if trunc else summary["Id"],
        "Names": summary["Names"][0].lstrip("/"),
        "Image": summary["Image"],
        "Command": go_quote(ellipsis(summary["Command"], 20) if trunc else summary["Command"]),
        "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
        "RunningFor": human_duration(_since(summary["Created"], whole_seconds=True)) + " ago",
        "Ports": displayable_ports(summary["Ports"], major),
        "State": summary["State"], "Status": summary["Status"], "Size": "0B",
        "Labels": ",".join(sorted(f"{k}={v}" for k, v in labels.items())),
        "Mounts": "", "LocalVolumes": "0", "Networks": ",".join(summary["Networks"]),
        **({"Platform": None, "HealthStatus": ""} if major >= 29 else {}),
    }


def ps(summaries: list[dict], *, major: int, template: str | None = None, quiet: bool = False,
       trunc: bool = True) -> str:
    """``docker ps``: the daemon's list (newest first) through NewContainerFormat's template
    (cli/command/container/list.go runPs; formatter/container.go)."""
    if quiet:
        template = "{{.ID}}"
    elif not template or template == "table":
        template = DEFAULT_PS_FORMAT
    rows = [ps_fields(s, trunc, major) for s in summaries]
    if template == "json":
        return "".join(_go_json(dict(sorted(r.items()))) + "\n" for r in rows)
    return formatted_list(template, rows, PS_HEADERS)


def displayable_ports(ports: list[dict], major: int) -> str:
    """formatter.DisplayablePorts: sorted by private port, IP, public port, type; ports published
    on their own number grouped into ranges per IP and type ("0.0.0.0:80-81->80-81/tcp"); the
    others after them. 27 writes "IP:PORT" for a group, 29 net.JoinHostPort ("[::]:80")."""
    def key(p):  # comparePorts: 29 compares IP.String(), and an unset netip.Addr is "invalid IP"
        ip = p["IP"] or ("invalid IP" if major >= 29 else "")
        return (p["PrivatePort"], ip, p["PublicPort"], p["Type"])

    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    host_mappings: list[str] = []
    for p in sorted(ports, key=key):
        current, port_key = p["PrivatePort"], p["Type"]
        if p["IP"]:
            if p["PublicPort"] != current:
                host_mappings.append(f"{join_host_port(p['IP'], p['PublicPort'])}->{current}/{p['Type']}")
                continue
            port_key = f"{p['IP']}/{p['Type']}"
        group = groups.get(port_key)
        if group is None:
            groups[port_key] = [current, current]
            order.append(port_key)
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_form_group(port_key, group[0], group[1], major))
        groups[port_key] = [current, current]
    result += [_form_group(k, *groups[k], major) for k in order]
    return ", ".join(result + host_mappings)


def _form_group(key: str, first: int, last: int, major: int) -> str:
    parts = key.split("/")
    ip, kind = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{join_host_port(ip, group)}->{group}" if major >= 29 else f"{ip}:{group}->{group}"
    return f"{group}/{kind}"


# --- docker port -------------------------------------------------------------------------
def port_lines(ports: dict, wanted: str | None) -> str | None:
    """``docker port`` (cli/command/container/port.go runPort) from inspect's
    NetworkSettings.Ports: "80/tcp -> 0.0.0.0:8080" lines, or only "0.0.0.0:8080" for one port,
    in natural order. None: that port has no binding (the caller words the error)."""
    if wanted is not None:
        number, _, proto = wanted.partition("/")
        frontends = ports.get(f"{int(number)}/{(proto or 'tcp').lower()}")
        if not frontends:
            return None
        out = [join_host_port(f["HostIp"], f["HostPort"]) for f in frontends]
    else:
        out = [f"{key} -> {join_host_port(f['HostIp'], f['HostPort'])}"
               for key, frontends in ports.items() for f in frontends or []]
    out.sort(key=natural_key)
    return "\n".join(out) + "\n" if out else ""


# --- docker network ls / inspect ----------------------------------------------------------
NETWORK_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
                   "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}
DEFAULT_NETWORK_FORMAT = "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}"


def network_ls(networks: list, *, template: str | None = None, quiet: bool = False, trunc: bool = True) -> str:
    """``docker network ls``: sorted by name in natural order (cli/command/network/list.go
    runList: sortorder.NaturalLess), through network/formatter.go's template."""
    if not template or template == "table":
        template = "{{.ID}}" if quiet else DEFAULT_NETWORK_FORMAT
    elif quiet:
        template = "{{.ID}}" if template.startswith("table") else template
    rows = []
    for n in sorted(networks, key=lambda n: natural_key(n.name)):
        created = _parse_time(n.created) if n.created else None
        rows.append({"ID": short(n.id) if trunc else n.id, "Name": n.name, "Driver": n.type,
                     "Scope": netinfo.scope(n), "IPv4": "true", "IPv6": "false",
                     "Internal": "true" if n.internal else "false",
                     "Labels": ",".join(sorted(f"{k}={v}" for k, v in (n.labels or {}).items())),
                     "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
                     + " +0000 UTC" if created else ""})
    if template == "json":
        return "".join(_go_json(dict(sorted(r.items()))) + "\n" for r in rows)
    return formatted_list(template, rows, NETWORK_HEADERS)


def network_inspect(net, containers: dict[str, Container], peers: list | None = None, *, major: int = 27) -> dict:
    """``docker network inspect`` (moby api/types/network Inspect at v27.5.1; Network + Inspect
    at docker-v29.7.2, daemon/network.go buildNetworkResource / buildIPAMResources /
    buildContainerAttachments, IPAMStatus); ``peers``: an overlay's hosts (NetworkDB's view)."""
    config = None
    if net.subnet is not None:
        entry = {"Subnet": net.subnet}
        if net.ip_range is not None:
            entry["IPRange"] = net.ip_range
        # 27 prints the user's IpamConf as given (no --gateway: no Gateway); 29 fills in the
        # gateway IPAM allocated (buildIPAMResources)
        asked = getattr(net, "ipam_v4_config", None)
        if major >= 29 or not (asked and asked.get("PreferredPool") and not asked.get("Gateway")):
            entry["Gateway"] = net.gateway_ip
        config = [entry]
    by_id = {c.id: c for c in containers.values()}
    members = {}
    for ep in net.endpoints.values():
        cid = ep.sandbox.container_id if ep.sandbox is not None else ep.id
        # docker_gwbridge's endpoints are libnetwork's "gateway_<sandbox id>" ones
        name = ep.name if ep.name.startswith("gateway_") or cid not in by_id else by_id[cid].name
        members[cid] = {"Name": name, "EndpointID": ep.id, "MacAddress": ep.mac,
                        "IPv4Address": ep.cidr, "IPv6Address": ""}
    members = dict(sorted(members.items()))
    inspect = {"Name": net.name, "Id": net.id, "Created": net.created, "Scope": netinfo.scope(net),
               "Driver": net.type}
    if major >= 29:
        inspect["EnableIPv4"] = True
    inspect.update({
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if netinfo.is_default(net) else {}, "Config": config},
        "Internal": net.internal, "Attachable": netinfo.attachable(net), "Ingress": netinfo.ingress(net),
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
    })
    if major < 29:
        inspect["Containers"] = members
    inspect.update({"Options": dict(sorted(net.options.items())), "Labels": dict(sorted((net.labels or {}).items()))})
    if peers:
        inspect["Peers"] = peers
    if major >= 29:  # API 1.52+: Containers after the embedded Network, then Status
        inspect["Containers"] = members
        inspect["Status"] = {"IPAM": _ipam_status(net)}
    return inspect


def _ipam_status(net) -> dict:
    """IPAMStatus (docker-v29.7.2 daemon/libnetwork/network.go; defaultipam allocationStatus):
    addresses in use in the pool (the IPv4 network and broadcast addresses reserved by
    newPoolData, the gateway, the endpoints), and those left in the sub-pool."""
    if net.subnet is None or net.type in ("host", "null"):
        return {}
    pool = ipaddress.ip_network(net.subnet, strict=False)
    used = {pool.network_address, pool.broadcast_address} if pool.prefixlen < 31 else set()
    if net.gateway_ip:
        used.add(ipaddress.ip_address(net.gateway_ip))
    used |= {ipaddress.ip_address(ep.cidr.split("/")[0]) for ep in net.endpoints.values() if ep.cidr}
    sub = ipaddress.ip_network(net.ip_range, strict=False) if net.ip_range else pool
    return {"Subnets": {str(pool): {"IPsInUse": len(used),
                                    "DynamicIPsAvailable": sub.num_addresses - sum(a in sub for a in used)}}}


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
    return _render_raw(template.replace("\\n", "\n"), obj) + "\n"


def _render_raw(template: str, obj: dict) -> str:
    out, _ = _render(_ACTION.split(template), 0, obj)
    return out


def _go_json(value) -> str:
    """Go's encoding/json, compact, with <, > and & escaped (as {{json .}} prints)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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
        return _go_json(_value(words[1], dot))
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
        if value is None:  # a field of a missing map entry: the zero value again
            continue
        if isinstance(value, Fields) or not isinstance(value, dict):
            if not isinstance(value, dict) or key not in value:
                raise ValueError(f"template: can't evaluate field {key}")
        # inspect's JSON is a map to the template: a key it lacks is "<no value>", as Go's
        # text/template prints a missing map key (e.g. 29's NetworkSettings.IPAddress)
        value = value[key] if key in value else None  # (through __getitem__: system.GoStruct maps names)
    return value


class Fields(dict):
    """A list command's row (ContainerContext, networkContext): a struct to the template, so an
    unknown field is an error, not "<no value>"."""


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
