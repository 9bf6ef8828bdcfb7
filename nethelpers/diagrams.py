"""Pictures of the two container network models, drawn from live objects (chapter 08).

    diagrams.cnm(controller)   # libnetwork: sandboxes holding endpoints, wired to networks
    diagrams.cni(outcome)      # CNI: the runtime calling each plugin of a list in turn

Both return a matplotlib Figure, each artist's gid naming what it shows (invisible in a PNG; read by
tests/course/test_diagrams.py): ``network:NET``, ``sandbox:NAME``, ``endpoint:NET:EP``, ``wire:NET:EP``
(CNM); ``lifeline:NAME``, ``time:NAME``, ``call:I:PLUGIN``, ``answer:I:PLUGIN`` (CNI); ``label:…``
for their texts. :func:`mask` hides what CNI plugins draw at random
(MAC addresses, the bridge plugin's veth names) so that printed JSON stays the same run after run.
"""

from __future__ import annotations

import json
import re

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from .plot import blank

SANDBOX = ("#fde6c8", "#c47a1e")
ENDPOINT = ("#ffffff", "#c47a1e")
NETWORK = ("#e8e0f8", "#6b4fa8")
RUNTIME = ("#dce9f7", "#3b6ea5")
PLUGIN = ("#dcf1d4", "#3f8a36")
_MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
# Docker's MAC is 02:42 and then the container's IPv4 address: kept only when those four bytes are a
# private address, so that a random MAC that happens to start with 02:42 (1 in 16384) is still masked.
_DOCKER_MAC = re.compile(r"02:42:(0a(:[0-9a-f]{2}){3}|ac:1[0-9a-f](:[0-9a-f]{2}){2}|c0:a8(:[0-9a-f]{2}){2})")
_VETH = re.compile(r"\bveth[0-9a-f]{8}\b")


def mask(value, *, veths: bool = True):
    """``value`` (JSON-like data or text) with random MACs as ``xx:xx:xx:xx:xx:xx`` and (unless
    ``veths`` is false) the bridge plugin's random veth names as ``veth…``. Docker's
    MACs, ``02:42:`` and the container's private IPv4 address, are kept."""
    if isinstance(value, str):
        value = _MAC.sub(lambda m: m[0] if _DOCKER_MAC.fullmatch(m[0]) else "xx:xx:xx:xx:xx:xx", value)
        return _VETH.sub("veth…", value) if veths else value
    return json.loads(mask(json.dumps(value, ensure_ascii=False), veths=veths))




def _box(ax, x, y, w, h, colours, lw=1.4, gid=None):
    ax.add_patch(FancyBboxPatch((x, y), w, h, "round,pad=0,rounding_size=0.08", fc=colours[0], ec=colours[1],
                                lw=lw, gid=gid))


# --- CNM -------------------------------------------------------------------------------------
def cnm(controller, *, title: str | None = None) -> Figure:
    """libnetwork's objects as they are now: each Sandbox a box holding its Endpoints
    (name, interface, address), each Network a bar (name, driver, IPAM, subnet), and a wire
    from every endpoint to its network. Endpoints not joined to a sandbox stand apart."""
    networks = list(controller.networks.values())
    groups = [(sb.container_id[:12], list(sb.endpoints)) for sb in controller.sandboxes.values()]
    loose = [ep for net in networks for ep in net.endpoints.values() if ep.sandbox is None]
    if loose:
        groups.append(("(not joined)", loose))
    ep_w, gap, pad = 2.0, 0.5, 0.2
    widths = [max(1, len(eps)) * (ep_w + pad) + pad for _, eps in groups]
    width = max(6.0, sum(widths) + gap * (len(groups) + 1))
    bar_h, bar_gap = 0.42, 0.28
    height = 3.1 + len(networks) * (bar_h + bar_gap)
    fig, ax = blank(width, height, title or f"CNM: the objects of the Controller on {controller.host}")
    top = height * 0.9
    bars = {}
    for i, net in enumerate(networks):  # networks at the bottom, the first one highest
        y = 0.2 + (len(networks) - 1 - i) * (bar_h + bar_gap)
        _box(ax, gap, y, width - 2 * gap, bar_h, NETWORK, gid=f"network:{net.name}")
        ipam = f"IPAM {net.ipam_name}" if net.ipam_name else "no IPAM"
        ax.text(width - gap - 0.15, y + bar_h / 2,
                f"Network {net.name}  ·  driver {net.type}  ·  {ipam}" + (f"  ·  {net.subnet}" if net.subnet else ""),
                ha="right", va="center", fontsize=9, color=NETWORK[1], weight="bold", gid=f"label:network:{net.name}")
        bars[net.name] = y + bar_h
    box_y, box_h = top - 1.95, 1.65
    x = gap
    for (name, eps), w in zip(groups, widths):
        _box(ax, x, box_y, w, box_h, SANDBOX if name != "(not joined)" else ("#f4f4f4", "#999999"),
             gid=f"sandbox:{name}")
        label = f"Sandbox {name}" if name != "(not joined)" else name
        ax.text(x + 0.15, box_y + box_h - 0.2, label, ha="left", va="center", fontsize=10, weight="bold",
                gid=f"label:sandbox:{name}")
        for j, ep in enumerate(eps):
            ex = x + pad + j * (ep_w + pad)
            _box(ax, ex, box_y + 0.15, ep_w, 0.95, ENDPOINT, lw=1.0, gid=f"endpoint:{ep.network.name}:{ep.name}")
            ax.text(ex + ep_w / 2, box_y + 0.62,
                    f"Endpoint {ep.name}\n{ep.ifname or '-'}  {ep.address or 'no address'}\nnetwork {ep.network.name}",
                    ha="center", va="center", fontsize=7.5, linespacing=1.3, gid=f"label:endpoint:{ep.network.name}:{ep.name}")
            cx = ex + ep_w / 2 + (j % 2) * 0.01
            bar_top = bars[ep.network.name]
            ax.plot([cx, cx], [box_y + 0.15, bar_top], color="#333333", lw=1.2, zorder=0,
                    gid=f"wire:{ep.network.name}:{ep.name}")
            ax.plot([cx], [bar_top], "o", color=NETWORK[1], ms=5)
        x += w + gap
    return fig


# --- CNI -------------------------------------------------------------------------------------
def _interfaces(result: dict) -> str:
    names = []
    for iface in result.get("interfaces") or []:
        where = " (in the container)" if iface.get("sandbox") else ""
        names.append(mask(iface.get("name", "?")) + where)
    return ", ".join(names) or "none"


def _passed(request: dict, previous: str | None = None) -> str:
    """What a plugin got on stdin, in a line or two."""
    keys = [k for k in request if k not in ("cniVersion", "name", "type", "prevResult", "runtimeConfig")]
    lines = [f"config: {request.get('type')} {{{', '.join(keys)}}}" if keys else f"config: {request.get('type')}"]
    extra = []
    if "runtimeConfig" in request:
        extra.append("runtimeConfig: " + ", ".join(request["runtimeConfig"]))
    if "prevResult" in request:
        extra.append(f"prevResult ({previous}'s result)" if previous else "prevResult")
    if extra:
        lines.append("+ " + " + ".join(extra))
    return "\n".join(lines)


def _answer(exchange) -> str:
    response = exchange.response or {}
    if exchange.rc != 0:
        return f"error {response.get('code')}: {str(response.get('msg', ''))[:40]}"
    if exchange.command == "VERSION":
        return "supports up to " + (response.get("supportedVersions") or ["?"])[-1]
    if exchange.command != "ADD":
        return "ok (no output)" if not response else "ok"
    ips = ", ".join(ip.get("address", "?") for ip in response.get("ips") or [])
    return f"result: {_interfaces(response)}" + (f"\nips {ips}" if ips else "")


def cni(outcome, *, title: str | None = None, versions: bool = False) -> Figure:
    """A runtime's operation as a sequence: the runtime and each plugin a lifeline, time going
    down; a solid arrow for each execution (labelled with what it passed on stdin: config,
    runtimeConfig, prevResult) and a dashed one for what came back on stdout (the result).
    VERSION calls are summed up in one line unless ``versions`` is true."""
    calls = [e for e in outcome.exchanges if versions or e.command != "VERSION"]
    plugins = list(dict.fromkeys(e.plugin for e in calls))
    delegated = {}
    for e in calls:
        ipam = (e.request or {}).get("ipam")
        if isinstance(ipam, dict) and ipam.get("type"):
            delegated[e.plugin] = ipam["type"]
    col, first = 3.3, 1.4
    width = first + col * len(plugins) + 0.6
    row = 1.05
    height = 1.9 + row * len(calls) + 0.5
    fig, ax = blank(max(width, 6.5), height, title or f"CNI: {outcome.command} of network "
                      f"{outcome.network!r} for {outcome.container_id or '-'} (version {outcome.cni_version})")
    top = height * 0.9 - 0.2
    xs = {"runtime": first - 0.5}
    for i, name in enumerate(plugins):
        xs[name] = first + col * (i + 0.75)
    bottom = top - 0.75 - row * len(calls) - 0.2
    for name, x in xs.items():
        colours = RUNTIME if name == "runtime" else PLUGIN
        _box(ax, x - 0.75, top - 0.55, 1.5, 0.55, colours, gid=f"lifeline:{name}")
        ax.text(x, top - 0.275, name, ha="center", va="center", fontsize=10, weight="bold", gid=f"label:lifeline:{name}")
        if name in delegated:
            ax.text(x, top - 0.7, f"(execs IPAM {delegated[name]})", ha="center", va="center", fontsize=7.5,
                    color=PLUGIN[1], gid=f"label:ipam:{name}")
        ax.plot([x, x], [top - 0.55, bottom], color="#999999", lw=1, ls=":", zorder=0, gid=f"time:{name}")
    y, previous = top - 0.95, None
    for i, e in enumerate(calls):
        x0, x1 = xs["runtime"], xs[e.plugin]
        ax.annotate("", xy=(x1 - 0.05, y), xytext=(x0, y),
                    arrowprops=dict(arrowstyle="-|>", color=RUNTIME[1], lw=1.4), gid=f"call:{i}:{e.plugin}")
        ax.text(x0 + 0.12, y + 0.05, f"{e.command}  " + _passed(e.request or {}, previous if e.command == "ADD" else "the cached ADD").replace("\n", "  "),
                ha="left", va="bottom", fontsize=7.5, color=RUNTIME[1], gid=f"label:call:{i}:{e.plugin}")
        y2 = y - 0.45
        failed = e.rc != 0
        ax.annotate("", xy=(x0, y2), xytext=(x1 - 0.05, y2),
                    arrowprops=dict(arrowstyle="-|>", color="#b0413e" if failed else PLUGIN[1], lw=1.2, ls="--"),
                    gid=f"answer:{i}:{e.plugin}")
        ax.text(x0 + 0.12, y2 + 0.04, _answer(e).replace("\n", "  "), ha="left", va="bottom", fontsize=7.5,
                color="#b0413e" if failed else PLUGIN[1], gid=f"label:answer:{i}:{e.plugin}")
        y -= row
        previous = e.plugin if e.command == "ADD" and not failed else previous
    skipped = [e for e in outcome.exchanges if e.command == "VERSION"] if not versions else []
    if skipped:
        ax.text(0.15, 0.15, f"before: VERSION asked of {', '.join(e.plugin for e in skipped)} → "
                f"they agree on {outcome.cni_version}", fontsize=8, color="#555555", ha="left", va="bottom",
                gid="label:versions")
    return fig


__all__ = ["cnm", "cni", "mask"]
