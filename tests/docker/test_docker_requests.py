"""How many requests a docker command sends to the lab's sandbox (each is a round trip to another
process, or into the VM): counted on the real lab, every request still sent and answered."""

from __future__ import annotations

import pytest


@pytest.fixture
def requests(lab):
    """The requests of the lab, by name, from the moment the fixture's list is cleared."""
    sent, call = [], lab._call

    def counted(op, *args, **kwargs):
        sent.append(op)
        return call(op, *args, **kwargs)

    lab._call = counted
    yield sent
    lab._call = call


@pytest.mark.parametrize("version, expected", [
    ("27", ["exited", "apply", "start"]),
    # Docker 28+ guards each endpoint's address with a raw-PREROUTING rule (iptabler/endpoint.go
    # filterDirectAccess at docker-v29.7.2): one iptables-restore more
    ("29", ["exited", "run", "apply", "start"]),
])
def test_run_on_the_default_bridge_is_three_requests_however_many_containers_run(lab, requests, version, expected):
    lab.docker_host(version=version)
    for name in ("c1", "c2", "c3"):
        lab.docker(f"run -dit --name {name} busybox")
    requests.clear()
    lab.docker("run -dit --name c4 busybox")
    # which commands have ended (one for all), the namespace with its veth, /etc files and
    # addresses (one batch), the container's command
    assert requests == expected
    assert "c4" in lab.docker("ps").split()


def test_a_name_another_node_has_costs_the_node_list_only_when_refused(lab, requests):
    lab.docker("ps")
    lab.add_node("taken")
    requests.clear()
    with pytest.raises(Exception, match="the lab already has a node called 'taken'"):
        lab.docker("run -dit --name taken busybox")
    assert "nodes" in requests
    assert "taken" not in lab.docker("ps -a").split()
