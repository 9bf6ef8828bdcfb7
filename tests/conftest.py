"""Shared fixtures: every test gets real, throwaway labs (no mocks of the kernel)."""

from __future__ import annotations

import os

import pytest

from nethelpers import Lab


@pytest.fixture
def lab():
    with Lab() as lab:
        yield lab


@pytest.fixture
def docker_lab(lab):
    """A lab with its Docker host started (and the world around it: router, LAN client, internet)."""
    lab.docker_host()
    return lab


@pytest.fixture
def pair(lab):
    """Two nodes a and b joined by a veth pair, 10.0.0.1/24 <-> 10.0.0.2/24."""
    a, b = lab.add_node("a"), lab.add_node("b")
    lab.add_veth("a:eth0", "b:eth0")
    a.add_address("eth0", "10.0.0.1/24")
    b.add_address("eth0", "10.0.0.2/24")
    return a, b


@pytest.fixture
def bridged(lab):
    """A docker-like host: bridge br0 10.0.0.1/24 and containers c1 (.2), c2 (.3)."""
    host = lab.add_node("host", kind="host")
    host.add_bridge("br0", address="10.0.0.1/24")
    containers = []
    for i in (1, 2):
        c = lab.add_node(f"c{i}", kind="container", parent="host")
        lab.add_veth(f"host:veth{i}", f"c{i}:eth0", master="br0")
        c.add_address("eth0", f"10.0.0.{i + 1}/24")
        c.add_route("default", via="10.0.0.1")
        containers.append(c)
    return host, *containers


@pytest.fixture
def myhost_lab(lab):
    """A host built by hand: myhost (198.51.100.10 on the LAN, no iptables rules) with bridge br0
    10.0.0.1/24 and app1 10.0.0.2 behind it (default route via br0)."""
    from nethelpers import world

    host = world.add_host(lab, "myhost")
    host.add_bridge("br0", address="10.0.0.1/24")
    app = lab.add_node("app1", kind="container", parent="myhost")
    lab.add_veth("myhost:veth1", "app1:eth0", master="br0")
    app.add_address("eth0", "10.0.0.2/24")
    app.add_route("default", via="10.0.0.1")
    return lab


@pytest.fixture
def overlay_pair(lab):
    """Two Docker hosts in a swarm (docker-host the manager, host2 a worker), the attachable overlay
    ov1, and c1 on docker-host, c2 on host2."""
    lab.docker("swarm init --advertise-addr 198.51.100.10")
    token = lab.docker("swarm join-token -q worker").strip()
    lab.docker(f"swarm join --token {token} 198.51.100.10:2377", host="host2")
    lab.docker("network create -d overlay --attachable ov1")
    lab.docker("run -dit --name c1 --network ov1 busybox")
    lab.docker("run -dit --name c2 --network ov1 busybox", host="host2")
    return lab


def pings(node, address: str) -> bool:
    """One bounded ping (1 packet, 1 s)."""
    return node.run(f"ping -c1 -W1 {address}", timeout=5).rc == 0


ROOT = os.geteuid() == 0
