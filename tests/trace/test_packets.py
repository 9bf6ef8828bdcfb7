"""nethelpers.packets: a real capture of real VXLAN traffic between two nodes, dissected and drawn."""

from __future__ import annotations

import time

import pytest

from nethelpers import packets
from nethelpers.errors import CommandFailed, InvalidValue

pytest.importorskip("scapy")

PING_FILTER = "udp dst port 4789 and udp[39] = 1"  # VXLAN carrying ICMP (inner IPv4 protocol byte)


@pytest.fixture
def vxlan_pair(lab):
    """Nodes h1 and h2 on an underlay veth (192.0.2.1 / .2); on each a bridge br0 with a
    container-like node (c1 10.9.0.1, c2 10.9.0.2) and vxlan0 VNI 42 flooding to the other."""
    h1, h2 = lab.add_node("h1", kind="host"), lab.add_node("h2", kind="host")
    lab.add_veth("h1:eth0", "h2:eth0")
    for i, (host, peer) in enumerate(((h1, "192.0.2.2"), (h2, "192.0.2.1")), 1):
        host.add_address("eth0", f"192.0.2.{i}/24")
        host.add_bridge("br0", mtu=1450)
        host.add_vxlan("vxlan0", 42, local=f"192.0.2.{i}", dev="eth0", mtu=1450, master="br0")
        host.add_fdb("00:00:00:00:00:00", "vxlan0", dst=peer)
        c = lab.add_node(f"c{i}", kind="container", parent=host.name)
        lab.add_veth(f"{host.name}:veth{i}", f"c{i}:eth0", master="br0", mtu=1450, peer_mac=f"02:42:0a:09:00:0{i}")
        c.add_address("eth0", f"10.9.0.{i}/24")
    assert lab.node("c1").run("ping -c1 -W2 10.9.0.2", timeout=10).ok
    return h1, h2


def test_a_tunnelled_ping_is_captured_and_dissected(lab, vxlan_pair):
    h1, _ = vxlan_pair
    started = time.monotonic()
    cap = packets.capture(h1, "eth0", PING_FILTER, count=2, seconds=30)
    assert lab.node("c1").run("ping -c1 -W2 10.9.0.2", timeout=10).ok
    request, reply = cap.packets()
    assert time.monotonic() - started < cap.seconds, "a capture that got its packets ends then, not at its time"

    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.vxlan import VXLAN

    assert (request[IP].src, request[IP].dst, request[UDP].dport) == ("192.0.2.1", "192.0.2.2", 4789)
    assert request[VXLAN].vni == 42 and int(request[VXLAN].flags) == 0x08
    inner = request[VXLAN].payload
    assert (inner.src, inner.dst) == ("02:42:0a:09:00:01", "02:42:0a:09:00:02")
    assert (inner[IP].src, inner[IP].dst, inner[ICMP].type) == ("10.9.0.1", "10.9.0.2", 8)
    assert reply[VXLAN].payload[ICMP].type == 0

    table = packets.layers(request)
    assert [(layer.name, layer.size, layer.outer) for layer in table] == [
        ("outer Ethernet", 14, True), ("outer IPv4", 20, True), ("outer UDP", 8, True), ("VXLAN", 8, True),
        ("inner Ethernet", 14, False), ("inner IPv4", 20, False), ("inner ICMP", 8, False),
        ("inner payload", 56, False)]
    assert (table.total, table.overhead) == (148, 50)
    assert "VNI 42" in table[3].fields and "flags 0x08" in table[3].fields
    assert "hash of the inner flow" in table[2].fields and str(request[UDP].sport) not in str(table)
    assert "DF clear" in table[1].fields and "DF set" in table[5].fields
    text, html = str(table), table._repr_html_()
    assert "148 bytes on the wire = 50 bytes of encapsulation" in text and "<table>" in html

    fig = packets.picture(request, title="t")
    words = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "50 bytes of overhead" in words and "98 bytes" in words and "VNI 42" in words


def test_the_outer_source_port_is_the_same_for_one_flow(lab, vxlan_pair):
    h1, _ = vxlan_pair
    ports = []
    for _ in range(2):
        cap = packets.capture(h1, "eth0", PING_FILTER + " and src host 192.0.2.1", count=1)
        lab.node("c1").run("ping -c1 -W2 10.9.0.2", timeout=10)
        ports.append(cap.packets()[0]["UDP"].sport)
    assert ports[0] == ports[1]


def test_a_quiet_capture_ends_after_its_time_with_no_packets(lab, vxlan_pair):
    h1, _ = vxlan_pair
    started = time.monotonic()
    # it ends (packets() would raise CommandTimeout after a generous minute), and not before its time
    assert packets.capture(h1, "eth0", PING_FILTER, count=5, seconds=0.4).packets(timeout=60) == []
    assert time.monotonic() - started >= 0.4


def test_bad_input_and_damaged_output():
    with pytest.raises(InvalidValue, match="between 1 and 1000"):
        packets.Capture(None, "eth0", count=0)
    with pytest.raises(InvalidValue, match="0 to 60 seconds"):
        packets.Capture(None, "eth0", seconds=0)
    with pytest.raises(CommandFailed, match="gave no capture"):
        packets._decode("tcpdump: eth0: No such device exists\n", "tcpdump on x:eth0")
    with pytest.raises(CommandFailed, match="damaged"):
        packets._decode("PCAP abc!\n", "tcpdump on x:eth0")


def test_the_picture_of_a_tunnelled_ping_nests_each_header_and_draws_the_bytes_to_scale(lab, vxlan_pair):
    """Checked from the figure before it is rendered (each artist's gid names what it shows)."""
    from figures import _rect, _within, assert_fits

    h1, _ = vxlan_pair
    cap = packets.capture(h1, "eth0", PING_FILTER, count=1, seconds=30)
    assert lab.node("c1").run("ping -c1 -W2 10.9.0.2", timeout=10).ok
    table = packets.layers(cap.packets()[0])
    fig = packets.picture(table, title="c1 → c2")
    ax, renderer = fig.axes[0], fig.canvas.get_renderer()
    art = {a.get_gid(): a for a in (*ax.patches, *ax.lines, *ax.texts) if a.get_gid()}
    extent = {gid: a.get_window_extent(renderer) for gid, a in art.items()}
    assert sorted(g for g in art if g.startswith("layer:")) == sorted(f"layer:{i}" for i in range(len(table)))
    remaining = table.total
    for i, layer in enumerate(table):
        box = _rect(art[f"layer:{i}"])
        if i:  # each header wraps everything after it
            outer = _rect(art[f"layer:{i - 1}"])
            assert outer[0] < box[0] < box[2] < outer[2] and outer[1] <= box[1] < box[3] < outer[3]
        size = f"{layer.size} B" if i == len(table) - 1 else f"{layer.size} B header · {remaining} B in all"
        for part, text in (("name", layer.name), ("fields", layer.fields), ("size", size)):
            label = extent[f"label:layer:{i}:{part}"]
            assert art[f"label:layer:{i}:{part}"].get_text() == text
            # in its own box's top band, above the next header's box
            assert _within(label, extent[f"layer:{i}"]), (i, part)
            assert i == len(table) - 1 or label.y0 > extent[f"layer:{i + 1}"].y1, (i, part)
        remaining -= layer.size
    # on the wire: one cell per header, in order, each as wide as its share of the bytes
    x, width = 0.0, _rect(art[f"wire:{len(table) - 1}"])[2]
    for i, layer in enumerate(table):
        x0, _, x1, _ = _rect(art[f"wire:{i}"])
        assert x0 == pytest.approx(x) and (x1 - x0) / width == pytest.approx(layer.size / table.total)
        assert art[f"label:wire:{i}"].get_text().split("\n")[-1] == str(layer.size)
        x = x1
    # the braces under it: the encapsulation (outer headers and VXLAN), then the frame it carries
    overhead = sum(_rect(art[f"wire:{i}"])[2] - _rect(art[f"wire:{i}"])[0] for i, layer in enumerate(table)
                   if layer.outer)
    for part, (left, right) in (("overhead", (0, overhead)), ("frame", (overhead, width))):
        xs = art[f"brace:{part}"].get_xdata()
        assert (min(xs), max(xs)) == pytest.approx((left + 0.02, right - 0.02))
    assert art["label:brace:overhead"].get_text().startswith(f"{table.overhead} bytes of overhead")
    assert art["label:brace:frame"].get_text().startswith(f"{table.total - table.overhead} bytes: ")
    assert art["label:wire"].get_text() == f"on the wire, {table.total} bytes (widths to scale):"
    assert_fits(fig)
