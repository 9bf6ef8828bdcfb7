"""A refused docker command leaves the lab exactly as it was: nodes, links, rules, bookkeeping."""

from __future__ import annotations

import re

import pytest

from nethelpers.docker import DockerError


AGE = re.compile(r"\b(Less than a second|[0-9]+ seconds?|About a minute|[0-9]+ minutes?)\b")


def state(lab) -> tuple:
    host = lab["docker-host"]
    snapshot = lab.snapshot()
    for node in snapshot.values():
        for link in node["links"]:
            link.pop("index", None), link.pop("link_index", None)  # (interface numbers only grow)
    rules = host.run("iptables -S; iptables -t nat -S", check=True).stdout
    # docker ps with its ages ("Less than a second ago", "Up 1 second") masked: they move on by themselves
    containers = " ".join(AGE.sub("AGE", lab.docker("ps -a")).split())
    return (snapshot, rules, containers, lab.docker("network ls"), sorted(p["command"] for p in lab.processes()))


@pytest.fixture
def busy(lab):
    """A Docker host with a user network, a published port and containers on both networks."""
    lab.docker("network create --subnet 192.0.2.0/24 bridge1")
    lab.docker("run -dit --name c1 --network bridge1 -p 8080:80 busybox")
    lab.docker("run -dit --name c2 busybox")
    return lab


BAD = [
    "run -dit --name c3 -p 8080:80 busybox",                 # port already allocated (after the node exists)
    "run -dit --name c3 --network bridge1 -p 8080:80 busybox",
    "run -dit --name c1 busybox",                            # name taken
    "run -dit --name c3 --network nosuch busybox",           # unknown network
    "run -dit --name c3 --network bridge1 --ip 192.0.2.2 busybox",  # address in use
    "run -dit --name c3 --network bridge1 --ip 10.9.9.9 busybox",   # outside the subnet
    "run -dit --name c3 nosuchimage",
    "run -dit --name c3 -p 99999:80 busybox",
    "run -dit --name c3 --frobnicate busybox",
    "network create --subnet 192.0.2.128/25 clash",          # overlaps bridge1
    "network create bridge1",                                # name taken
    "network create -o com.docker.network.bridge.name=docker0 dup",
    "network create -o com.docker.network.bridge.name=a-name-much-too-long br",
    "network create -o com.docker.network.bridge.enable_icc=maybe icc",
    "network rm bridge1",                                    # has endpoints
    "network rm bridge",
    "network connect bridge1 c1",                            # already connected
    "network connect --ip 192.0.2.2 bridge1 c2",             # address in use
    "network disconnect bridge1 c2",                         # not connected
    "rm c1",                                                 # running
    "exec nosuch true",
]


@pytest.mark.parametrize("command", BAD)
def test_refused_command_changes_nothing(busy, command):
    before = state(busy)
    with pytest.raises(DockerError):
        busy.docker(command)
    assert state(busy) == before
