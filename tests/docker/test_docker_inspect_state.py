"""``docker inspect``'s State: every key Docker prints, in its order, and a real Pid.

moby api/types/container State (docker-v29.7.2 ``api/types/container/container.go``; v27.5.1
``api/types/types.go`` ContainerState): Status, Running, Paused, Restarting, OOMKilled, Dead, Pid,
ExitCode, Error, StartedAt, FinishedAt (Health only with a healthcheck). Pid is the main process's
PID, 0 once it has exited; FinishedAt is Go's zero time while it runs. The everyday recipe
``nsenter -t $(docker inspect -f '{{.State.Pid}}' c) -n ip addr`` must reach the container's
namespace when run where the lab's nodes run commands (the Docker host node).
"""

from __future__ import annotations

import json

import pytest

KEYS = ["Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error",
        "StartedAt", "FinishedAt"]


def state(lab, name: str) -> dict:
    return json.loads(lab.docker(f"inspect -f '{{{{json .State}}}}' {name}"))


@pytest.mark.parametrize("version", ["27", "29"])
def test_state_keys_in_dockers_order(lab, version):
    lab.docker_host(version=version)
    lab.docker("run -dit --name c1 busybox")
    got = state(lab, "c1")
    assert list(got) == KEYS
    assert got["Status"] == "running" and got["Running"] is True and got["Pid"] > 0
    assert got["FinishedAt"] == "0001-01-01T00:00:00Z"


def test_nsenter_with_the_pid_reaches_the_containers_namespace(lab):
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -d --name web -p 8080:80 nginx")
    for name, address in (("c1", "172.17.0.2/16"), ("web", "172.17.0.3/16")):
        pid = state(lab, name)["Pid"]
        out = lab["docker-host"].run(f"nsenter -t {pid} -n ip -br addr show eth0", check=True).stdout
        assert address in out, (name, out)


def test_an_exited_container_has_no_pid(lab):
    lab.docker(["run", "--name", "fg", "busybox", "sh", "-c", "exit 3"])
    got = state(lab, "fg")
    assert (got["Status"], got["Running"], got["Pid"], got["ExitCode"]) == ("exited", False, 0, 3)
    assert got["FinishedAt"] != "0001-01-01T00:00:00Z"
