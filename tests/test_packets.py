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
    cap = packets.capture(h1, "eth0", PING_FILTER, count=2)
    assert lab.node("c1").run("ping -c1 -W2 10.9.0.2", timeout=10).ok
    request, reply = cap.packets()
    assert time.monotonic() - started < 3, "a capture that got its packets ends at once"

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
    assert packets.capture(h1, "eth0", PING_FILTER, count=5, seconds=0.4).packets() == []
    assert time.monotonic() - started < 3


def test_bad_input_and_damaged_output():
    with pytest.raises(InvalidValue, match="between 1 and 1000"):
        packets.Capture(None, "eth0", count=0)
    with pytest.raises(InvalidValue, match="0 to 60 seconds"):
        packets.Capture(None, "eth0", seconds=0)
    with pytest.raises(CommandFailed, match="gave no capture"):
        packets._decode("tcpdump: eth0: No such device exists\n", "tcpdump on x:eth0")
    with pytest.raises(CommandFailed, match="damaged"):
        packets._decode("PCAP abc!\n", "tcpdump on x:eth0")
