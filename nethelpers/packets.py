"""Packets captured in a lab node, dissected with scapy, and drawn as nested headers.

    cap = capture(lab["host1"], "eth0", "udp dst port 4789", count=1)   # tcpdump is listening
    lab["a1"].run("ping -c 1 10.9.0.2")
    packet = cap.packets()[0]             # a scapy packet: Ether / IP / UDP / VXLAN / Ether / IP / ICMP
    layers(packet)                        # a table: each header, its key fields, its size in bytes
    picture(packet)                       # the outer headers wrapping the inner frame, drawn
                                          # (each artist's gid names what it shows: layer:I, wire:I, label:…)

How a capture reaches the notebook, and why no file is left anywhere: tcpdump runs in
the node as ``tcpdump --immediate-mode -U -c COUNT -w - ...``, writing the pcap stream to
its standard output; a shell in the node keeps that stream in a variable as base64 text
(``pcap=$(tcpdump ... | base64 -w0)``) and prints it as one line, ``PCAP <base64>``, once
tcpdump has exited. The notebook kernel reads that line from the background process's
output, decodes it, and hands the bytes to scapy's pcap reader in memory. Nothing is
written to a file, in the lab or on the machine. tcpdump's own messages ("listening on",
"N packets captured") go to its standard error, before the PCAP line, so they never mix
with it. ``--immediate-mode`` hands each packet to tcpdump at once (otherwise the kernel
batches them for up to a second), and ``timeout -s INT`` bounds a capture that sees
fewer packets than asked: tcpdump ends on SIGINT as on ``-c``, with the pcap complete.
"""

from __future__ import annotations

import base64
import binascii
import io
import shlex
from dataclasses import dataclass

from .errors import CommandFailed, InvalidValue
from .i18n import _

VXLAN_PORT = 4789


# --- capturing ----------------------------------------------------------------------------
class Capture:
    """A tcpdump running in a node until it has ``count`` packets or ``seconds`` have passed."""

    def __init__(self, node, iface: str, bpf: str = "", *, count: int = 1, seconds: float = 5) -> None:
        if not isinstance(count, int) or not 1 <= count <= 1000:
            raise InvalidValue(f"count={count!r}: capture between 1 and 1000 packets")
        if not 0 < seconds <= 60:
            raise InvalidValue(f"seconds={seconds!r}: bound a capture by 0 to 60 seconds")
        self.node, self.iface, self.bpf, self.count, self.seconds = node, iface, bpf, count, seconds
        tcpdump = (f"timeout -s INT {seconds:g} tcpdump --immediate-mode -U -n -c {count} -w - "
                   f"-i {shlex.quote(iface)}" + (f" {shlex.quote(bpf)}" if bpf else ""))
        self._process = node.start(["sh", "-c", f'pcap=$({tcpdump} | base64 -w0); echo; echo "PCAP $pcap"'])
        self._process.wait_for("listening on", timeout=5)
        self._packets = None

    def packets(self, timeout: float | None = None) -> list:
        """Wait for the capture to end (``count`` packets, or ``seconds``) and return the
        packets as scapy packets, in the order they were seen (fewer than ``count`` if the
        time ran out)."""
        if self._packets is None:
            output = self._process.wait(timeout=self.seconds + 5 if timeout is None else timeout)
            self._packets = _decode(output, f"tcpdump on {self.node.name}:{self.iface}")
        return self._packets

    def __repr__(self) -> str:
        return f"<Capture on {self.node.name}:{self.iface} {self.bpf!r}, {self.count} packet(s)>"


def capture(node, iface: str, bpf: str = "", *, count: int = 1, seconds: float = 5) -> Capture:
    """Start capturing on ``node``'s interface ``iface`` (returns once tcpdump listens).

    Args:
        node: a lab node (``lab["host1"]``).
        iface: the interface, e.g. ``"eth0"``.
        bpf: a tcpdump filter, e.g. ``"udp dst port 4789"``.
        count: stop after this many packets ...
        seconds: ... or after this long, whichever comes first.

    Returns:
        a :class:`Capture`; its ``.packets()`` waits for the end and returns scapy packets.
    """
    return Capture(node, iface, bpf, count=count, seconds=seconds)


def _decode(output: str, what: str) -> list:
    from scapy.utils import PcapReader

    line = next((l for l in output.splitlines() if l.startswith("PCAP ")), None)
    if line is None:
        raise CommandFailed(f"{what} gave no capture; its output: {output.strip()[-300:]!r}")
    try:
        data = base64.b64decode(line[5:].strip(), validate=True)
    except binascii.Error as error:
        raise CommandFailed(f"{what}: the capture came back damaged ({error})") from None
    if not data:
        raise CommandFailed(f"{what} wrote no pcap at all; its output: {output.strip()[-300:]!r}")
    _load_layers()
    with PcapReader(io.BytesIO(data)) as reader:
        return list(reader)


def _load_layers() -> None:
    """Import the scapy layers this module names (the VXLAN one binds UDP port 4789)."""
    import importlib

    for layer in ("inet", "l2", "vxlan"):
        importlib.import_module(f"scapy.layers.{layer}")


# --- dissecting ----------------------------------------------------------------------------
@dataclass
class Layer:
    """One header of a packet: its name, its key fields (text), its size in bytes, and
    whether it belongs to the encapsulation (outer) or to the carried frame (inner)."""

    name: str
    fields: str
    size: int
    outer: bool


class LayerTable(list):
    """A list of :class:`Layer` that shows itself as a table (text and HTML)."""

    @property
    def total(self) -> int:
        return sum(layer.size for layer in self)

    @property
    def overhead(self) -> int:
        return sum(layer.size for layer in self if layer.outer)

    def _summary(self) -> str:
        if not any(layer.outer for layer in self):
            return f"{self.total} bytes"
        return (f"{self.total} bytes on the wire = {self.overhead} bytes of encapsulation "
                f"+ the {self.total - self.overhead}-byte frame it carries")

    def __str__(self) -> str:
        width = max(len(layer.name) for layer in self)
        fields = max(len(layer.fields) for layer in self)
        lines = [f"{'layer':<{width}}  {'key fields':<{fields}}  bytes"]
        lines += [f"{layer.name:<{width}}  {layer.fields:<{fields}}  {layer.size:>5}" for layer in self]
        return "\n".join(lines + [self._summary()])

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr style='background:{'#dce9f7' if layer.outer else '#fde6c8'}'>"
            f"<td style='text-align:left'>{escape(layer.name)}</td>"
            f"<td style='text-align:left'>{escape(layer.fields)}</td>"
            f"<td style='text-align:right'>{layer.size}</td></tr>" for layer in self)
        return ("<table><thead><tr><th style='text-align:left'>layer</th>"
                "<th style='text-align:left'>key fields</th><th style='text-align:right'>bytes</th></tr>"
                f"</thead><tbody>{rows}</tbody></table><p>{escape(self._summary())}</p>")


def layers(packet) -> LayerTable:
    """The headers of ``packet`` from the outside in, with their key fields and sizes.

    Everything up to and including the VXLAN header is the encapsulation ("outer ...");
    what follows is the frame carried inside ("inner ..."). Only fields that are the
    same every time the same ping crosses are shown: not IP ids, checksums, ICMP ids or
    timestamps. The outer UDP source port is a hash of the inner frame's flow, made by
    the sending kernel with a secret picked at boot (so that flows spread over the
    underlay's paths): the same for one flow on one machine, another number on another
    machine, so it is shown as what it is, not as a number.
    """
    _load_layers()
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.layers.vxlan import VXLAN

    rows, outer, layer = LayerTable(), VXLAN in packet, packet
    while layer is not None and layer.__class__.__name__ not in ("NoPayload",):
        size = len(layer) - len(layer.payload)
        where = "outer " if outer else ("inner " if VXLAN in packet else "")
        if isinstance(layer, Ether):
            rows.append(Layer(f"{where}Ethernet", f"{layer.src} → {layer.dst}, type {_ethertype(layer.type)}",
                              size, outer))
        elif isinstance(layer, IP):
            df = "DF set" if "DF" in str(layer.flags) else "DF clear"
            proto = {1: "ICMP", 6: "TCP", 17: "UDP"}.get(layer.proto, str(layer.proto))
            rows.append(Layer(f"{where}IPv4", f"{layer.src} → {layer.dst}, TTL {layer.ttl}, {df}, "
                                              f"protocol {proto}", size, outer))
        elif isinstance(layer, UDP):
            sport = "hash of the inner flow" if layer.dport == VXLAN_PORT else str(layer.sport)
            rows.append(Layer(f"{where}UDP", f"source port: {sport}, destination port {layer.dport}", size, outer))
        elif isinstance(layer, VXLAN):
            flags = int(layer.flags)
            rows.append(Layer("VXLAN", f"flags 0x{flags:02x} (I: the VNI is valid), VNI {layer.vni}", size, True))
            outer = False
        elif isinstance(layer, ICMP):
            kind = {0: "echo-reply", 8: "echo-request", 3: "destination-unreachable"}.get(layer.type,
                                                                                         f"type {layer.type}")
            seq = f", seq {layer.seq}" if layer.type in (0, 8) else f", code {layer.code}"
            rows.append(Layer(f"{where}ICMP", kind + seq, size, outer))
        elif isinstance(layer, ARP):
            op = {1: "who-has", 2: "is-at"}.get(layer.op, f"op {layer.op}")
            rows.append(Layer(f"{where}ARP", f"{op} {layer.pdst} (from {layer.psrc})", size, outer))
        elif layer.__class__.__name__ in ("Raw", "Padding"):
            rows.append(Layer(f"{where}payload".strip(), f"{size} bytes of data", size, outer))
        else:
            rows.append(Layer(f"{where}{layer.name}", "", size, outer))
        layer = layer.payload if len(layer.payload) else None
    return rows


def _ethertype(value: int) -> str:
    return {0x0800: "IPv4", 0x0806: "ARP", 0x86DD: "IPv6"}.get(value, f"0x{value:04x}")


# --- drawing --------------------------------------------------------------------------------
OUTER_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#4292c6")   # the encapsulation: blues
INNER_COLOURS = ("#fde6c8", "#fbd09b", "#f7b267", "#f4a04a")   # the carried frame: oranges


def picture(packet, *, title: str | None = None):
    """Draw ``packet`` (or its :func:`layers`) twice: as nested boxes, each header wrapping
    everything after it, and as the bytes on the wire, with the encapsulation's overhead
    marked. Returns a matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Rectangle

    from .plot import fit_width

    table = packet if isinstance(packet, LayerTable) else layers(packet)
    n, width, step, gap = len(table), 12.0, 0.5, 0.12
    top = n * step + (n - 1) * gap + 0.05
    bar_y, bar_h = -1.55, 0.75
    fig = Figure(figsize=(12, 0.55 * n + 2.6))
    FigureCanvasAgg(fig)
    fit_width(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.9 if title else 0.98))
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(bar_y - 0.75, top + 0.1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=12)

    outer_i = inner_i = 0
    colours = []
    for layer in table:
        if layer.outer:
            colours.append(OUTER_COLOURS[min(outer_i, len(OUTER_COLOURS) - 1)])
            outer_i += 1
        else:
            colours.append(INNER_COLOURS[min(inner_i, len(INNER_COLOURS) - 1)])
            inner_i += 1

    # nested boxes: layer i wraps layers i+1 ...
    remaining = table.total
    for i, layer in enumerate(table):
        x0, x1 = i * 0.22, width - i * 0.22
        y0, y1 = i * gap, top - i * step
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, "round,pad=0,rounding_size=0.06",
                                    fc=colours[i], ec="#3b6ea5" if layer.outer else "#c47a1e",
                                    lw=1.6 if i in (0, n - 1) or not layer.outer and table[i - 1].outer else 0.9,
                                    gid=f"layer:{i}"))
        ax.text(x0 + 0.12, y1 - step / 2, f"{layer.name}", ha="left", va="center", fontsize=10,
                weight="bold", gid=f"label:layer:{i}:name")
        ax.text(x0 + 2.0, y1 - step / 2, layer.fields, ha="left", va="center", fontsize=9, gid=f"label:layer:{i}:fields")
        what = f"{layer.size} B" if i == n - 1 else f"{layer.size} B header · {remaining} B in all"
        ax.text(x1 - 0.12, y1 - step / 2, what, ha="right", va="center", fontsize=8.5, color="#333333",
                gid=f"label:layer:{i}:size")
        remaining -= layer.size

    # the same bytes in a row, as they leave the wire
    scale, x = width / table.total, 0.0
    for i, layer in enumerate(table):
        w = layer.size * scale
        ax.add_patch(Rectangle((x, bar_y), w, bar_h, fc=colours[i], ec="#333333", lw=0.8, gid=f"wire:{i}"))
        label = layer.name.replace("outer ", "").replace("inner ", "")
        ax.text(x + w / 2, bar_y + bar_h / 2, f"{label}\n{layer.size}" if w > 0.55 else f"{layer.size}",
                ha="center", va="center", fontsize=8 if w > 0.9 else 7, gid=f"label:wire:{i}")
        x += w
    overhead = table.overhead
    if overhead:
        for x0, x1, text, colour, part in (
                (0, overhead * scale, _("{bytes} bytes of overhead: what the tunnel adds to every frame").format(
                    bytes=overhead), "#3b6ea5", "overhead"),
                (overhead * scale, width, _("{bytes} bytes: the container's frame, unchanged").format(
                    bytes=table.total - overhead), "#c47a1e", "frame")):
            y = bar_y - 0.18
            ax.plot([x0 + 0.02, x0 + 0.02, x1 - 0.02, x1 - 0.02], [y + 0.1, y, y, y + 0.1], color=colour, lw=1.5,
                    gid=f"brace:{part}")
            first = x0 == 0
            ax.text(x0 if first else (x0 + x1) / 2, y - 0.12, text, ha="left" if first else "center",
                    va="top", fontsize=9.5, color=colour, weight="bold", gid=f"label:brace:{part}")
    ax.text(0, bar_y + bar_h + 0.1, _("on the wire, {bytes} bytes (widths to scale):").format(bytes=table.total),
            fontsize=9,
            ha="left", va="bottom", color="#333333", gid="label:wire")
    return fig


__all__ = ["Capture", "Layer", "LayerTable", "capture", "layers", "picture", "VXLAN_PORT"]
