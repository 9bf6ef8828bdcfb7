"""``docker start`` / ``docker restart``, networks of stopped containers, and which network gives a
container with several its default route.

The expectations come from Docker's source, not from the lab:
- docker/cli v27.5.1 and v29.7.2 ``cli/command/container/start.go`` (startContainersWithoutAttachments:
  each container's name as given; the failures, then "failed to start containers: a, b", which 27
  prefixes with "Error: ") and ``restart.go`` (runRestart: the daemon's errors joined by newlines);
- moby ``daemon/start.go`` validateState (a running container: NotModified, a 304 the CLI takes as
  success) and containerStart/initializeNetworking (every start makes a new sandbox: a new network
  namespace, endpoints made again from NetworkSettings.Networks), ``daemon/container_operations.go``
  cleanOperationalData (a stopped container keeps its networks, IPAMConfig and aliases; loses
  EndpointID, IPAddress, Gateway, MacAddress), ConnectToNetwork/DisconnectFromNetwork and
  updateNetworkSettings (a stopped container's configuration changes; connecting twice is no
  error), getNetworkedContainer (joining a stopped container's namespace is refused, worded
  differently by 27 and 29), container/state.go SetRunning (FinishedAt is kept);
- libnetwork's ``Endpoint.Less`` and ``getGatewayEndpoint`` (moby v27.5.1 libnetwork/sandbox.go and
  default_gateway.go; docker-v29.7.2 daemon/libnetwork/...): the gateway endpoint is the first
  with a gateway when sorted by priority, not-docker_gwbridge, not-internal, then network *name*;
  sbJoin/sbLeave move the default route and the published ports when that changes.
"""

from __future__ import annotations

import json

import pytest

from nethelpers.docker import DockerError
from waiting import wait_until

NEVER = "0001-01-01T00:00:00Z"


def inspect(lab, name: str, path: str = "."):
    return json.loads(lab.docker(f"inspect -f '{{{{json {path}}}}}' {name}"))


def netns(lab, name: str) -> str:
    pid = inspect(lab, name, ".State.Pid")
    return lab["docker-host"].run(f"readlink /proc/{pid}/ns/net", check=True).stdout.strip()


def mark(lab, name: str) -> None:
    """Leave a mark in the namespace ``name`` runs in now (an address on its lo)."""
    pid = inspect(lab, name, ".State.Pid")
    lab["docker-host"].run(f"nsenter -t {pid} -n ip addr add 192.0.2.99/32 dev lo", check=True)


def marked(lab, name: str) -> bool:
    pid = inspect(lab, name, ".State.Pid")
    return "192.0.2.99" in lab["docker-host"].run(f"nsenter -t {pid} -n ip -br addr show lo", check=True).stdout


@pytest.mark.parametrize("version", ["27", "29"])
def test_start_prints_each_name_and_a_running_one_is_no_error(lab, version):
    lab.docker_host(version=version)
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -dit --name c2 busybox")
    assert lab.docker("start c1") == "c1\n"  # 304 Not Modified: success, the name printed
    lab.docker("stop c1 c2")
    assert lab.docker("start c1 c2") == "c1\nc2\n"
    assert inspect(lab, "c1", ".State.Running") and inspect(lab, "c2", ".State.Running")
    assert lab.docker("container restart c2") == "c2\n"


@pytest.mark.parametrize("version, last", [("27", "Error: failed to start containers: nope, gone"),
                                           ("29", "failed to start containers: nope, gone")])
def test_start_failures_as_each_cli_prints_them(lab, version, last):
    lab.docker_host(version=version)
    lab.docker("run -dit --name c1 busybox")
    lab.docker("stop c1")
    with pytest.raises(DockerError) as err:
        lab.docker("start nope c1 gone")
    assert str(err.value) == ("Error response from daemon: No such container: nope\n"
                              "Error response from daemon: No such container: gone\n" + last)
    assert inspect(lab, "c1", ".State.Running") is True  # the others still start
    with pytest.raises(DockerError) as err:
        lab.docker("restart nope")
    assert str(err.value) == "Error response from daemon: No such container: nope"


@pytest.mark.parametrize("version", ["27", "29"])
def test_a_start_is_a_new_namespace_with_the_same_networks(lab, version):
    lab.docker_host(version=version)
    lab.docker("network create --subnet 10.9.0.0/24 lan")
    lab.docker("run -dit --name c1 --network lan --network-alias db busybox")
    lab.docker("run -dit --name c2 --network lan busybox")
    mark(lab, "c1")
    assert marked(lab, "c1")
    first_start = inspect(lab, "c1", ".State.StartedAt")
    lab.docker("stop c1")
    stopped = inspect(lab, "c1", ".NetworkSettings.Networks.lan")
    # cleanOperationalData: the configuration stays, the operational data goes
    assert stopped["Aliases"] == ["db"] and stopped["EndpointID"] == "" and stopped["IPAddress"] == ""
    assert stopped["MacAddress"] == "" and stopped["Gateway"] == ""
    finished = inspect(lab, "c1", ".State.FinishedAt")
    assert lab.docker("restart c1") == "c1\n"
    state = inspect(lab, "c1", ".State")
    assert state["Running"] and state["FinishedAt"] == finished != NEVER  # SetRunning keeps it
    assert state["StartedAt"] >= first_start
    assert not marked(lab, "c1")  # a new sandbox, a new namespace (an inode number may come back)
    addr = lab.docker("exec c1 ip -br -4 addr show eth0")
    assert "10.9.0.2/24" in addr  # the lowest free address again (no serial allocation off swarm)
    # the alias answers again through the embedded DNS
    assert "10.9.0.2" in lab.docker("exec c2 ping -c 1 -W 2 db")


@pytest.mark.parametrize("version", ["27", "29"])
def test_a_fixed_ip_is_kept_and_a_free_one_may_move(lab, version):
    lab.docker_host(version=version)
    lab.docker("network create --subnet 10.9.0.0/24 lan")
    lab.docker("run -dit --name fixed --network lan --ip 10.9.0.50 busybox")
    lab.docker("run -dit --name ca --network lan busybox")
    lab.docker("stop fixed ca")
    lab.docker("run -dit --name cb --network lan busybox")  # takes ca's address, the lowest free
    lab.docker("start fixed ca")
    assert inspect(lab, "fixed", ".NetworkSettings.Networks.lan.IPAMConfig") == {"IPv4Address": "10.9.0.50"}
    assert inspect(lab, "fixed", ".NetworkSettings.Networks.lan.IPAddress") == "10.9.0.50"
    assert inspect(lab, "cb", ".NetworkSettings.Networks.lan.IPAddress") == "10.9.0.2"
    assert inspect(lab, "ca", ".NetworkSettings.Networks.lan.IPAddress") == "10.9.0.3"


def test_connect_and_disconnect_a_stopped_container(lab):
    lab.docker("network create --subnet 10.8.0.0/24 back")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("stop c1")
    lab.docker("network connect --alias api back c1")
    lab.docker("network connect back c1")  # updateNetworkSettings: "Avoid duplicate config", no error
    back = inspect(lab, "c1", ".NetworkSettings.Networks.back")
    assert back["Aliases"] == ["api"] and back["EndpointID"] == ""
    lab.docker("start c1")
    assert "10.8.0.2/24" in lab.docker("exec c1 ip -br -4 addr")
    lab.docker("stop c1")
    lab.docker("network disconnect bridge c1")
    with pytest.raises(DockerError) as err:
        lab.docker("network disconnect bridge c1")
    cid = inspect(lab, "c1", ".Id")
    assert str(err.value) == f"Error response from daemon: container {cid} is not connected to the network bridge"
    lab.docker("start c1")
    assert list(inspect(lab, "c1", ".NetworkSettings.Networks")) == ["back"]
    assert "172.17." not in lab.docker("exec c1 ip -br -4 addr")


@pytest.mark.parametrize("version", ["27", "29"])
def test_joining_a_stopped_containers_namespace(lab, version):
    lab.docker_host(version=version)
    lab.docker("run -dit --name owner busybox")
    lab.docker("run -dit --name side --network container:owner busybox")
    lab.docker("stop side owner")
    cid = inspect(lab, "owner", ".Id")
    expected = (f"cannot join network of a non running container: {cid}" if version == "27" else
                "cannot join network namespace of a non running container: container owner is exited")
    with pytest.raises(DockerError) as err:
        lab.docker("start side")
    assert str(err.value) == (f"Error response from daemon: {expected}\n"
                              + ("Error: " if version == "27" else "") + "failed to start containers: side")
    with pytest.raises(DockerError) as err:
        lab.docker("run -d --network container:owner busybox sleep 5")
    assert expected in str(err.value)
    lab.docker("start owner side")  # the owner's new namespace is the one side joins
    assert netns(lab, "side") == netns(lab, "owner")


def test_restart_refused_while_a_joiner_runs_leaves_it_running(lab):
    lab.docker("run -dit --name owner busybox")
    lab.docker("run -dit --name side --network container:owner busybox")
    with pytest.raises(DockerError) as err:
        lab.docker("restart owner")
    assert "docker stop side" in str(err.value)
    assert inspect(lab, "owner", ".State.Running") is True


def test_logs_keep_every_run(lab):
    lab.docker(["run", "--name", "once", "busybox", "echo", "hi"])
    assert lab.docker("logs once") == "hi\n"  # a foreground run's output is its log too
    lab.docker("start once")
    # the daemon notices the second run exited when asked (an emulated CPU may take seconds to run it)
    wait_until(lambda: "Exited" in lab.docker("ps -a"))
    assert lab.docker("logs once") == "hi\nhi\n"


@pytest.mark.parametrize("version", ["27", "29"])
def test_the_gateway_is_the_network_first_by_name(lab, version):
    """sbJoin: connecting ``alpha`` to a container on ``zeta`` moves its default route and its
    published port there (Endpoint.Less orders by network name); sbLeave moves them back."""
    lab.docker_host(version=version)
    lab.docker("network create --subnet 10.9.0.0/24 zeta")
    lab.docker("network create --subnet 10.8.0.0/24 alpha")
    lab.docker("network create --internal --subnet 10.7.0.0/24 aaa-internal")
    lab.docker("run -dit --name c1 --network zeta -p 8080:80 busybox")
    host = lab["docker-host"]

    def dnat() -> str:
        return host.run("iptables -t nat -S DOCKER", check=True).stdout

    assert "default via 10.9.0.1" in lab.docker("exec c1 ip route")
    lab.docker("network connect aaa-internal c1")  # internal: sorted after the others, no gateway
    assert "default via 10.9.0.1" in lab.docker("exec c1 ip route")
    lab.docker("network connect alpha c1")
    assert "default via 10.8.0.1" in lab.docker("exec c1 ip route")
    assert "--to-destination 10.8.0.2:80" in dnat() and "10.9.0.2:80" not in dnat()
    assert lab.docker("port c1") == "80/tcp -> 0.0.0.0:8080\n"
    lab.docker("network disconnect alpha c1")
    assert "default via 10.9.0.1" in lab.docker("exec c1 ip route")
    assert "--to-destination 10.9.0.2:80" in dnat() and "10.8.0.2:80" not in dnat()


def test_gw_priority_wins_over_the_name(lab):
    """Docker 28+'s ``network connect --gw-priority`` (docker/cli v29.7.2 cli/command/network/connect.go;
    libnetwork JoinOptionPriority, Endpoint.Less: the highest priority first); 27's CLI has no flag."""
    lab.docker("network create --subnet 10.9.0.0/24 zeta")
    lab.docker("network create --subnet 10.8.0.0/24 alpha")
    lab.docker("network create --subnet 10.6.0.0/24 beta")
    lab.docker("run -dit --name c1 --network zeta busybox")
    lab.docker("network connect --gw-priority -1 alpha c1")     # below zeta's 0: zeta keeps it
    assert "default via 10.9.0.1" in lab.docker("exec c1 ip route")
    lab.docker("network connect --gw-priority 5 beta c1")
    assert "default via 10.6.0.1" in lab.docker("exec c1 ip route")
    assert inspect(lab, "c1", ".NetworkSettings.Networks.beta.GwPriority") == 5
    lab.docker("network disconnect beta c1")                     # then zeta (0) before alpha (-1)
    assert "default via 10.9.0.1" in lab.docker("exec c1 ip route")
    with pytest.raises(DockerError) as err:
        lab.docker("network connect --gw-priority high beta c1")
    assert str(err.value).startswith('invalid argument "high" for "--gw-priority" flag: strconv.ParseInt')


def test_gw_priority_is_unknown_to_27(lab):
    lab.docker_host(version="27")
    lab.docker("network create --subnet 10.8.0.0/24 alpha")
    lab.docker("run -dit --name c1 busybox")
    with pytest.raises(DockerError) as err:
        lab.docker("network connect --gw-priority 1 alpha c1")
    assert str(err.value) == "unknown flag: --gw-priority\nSee 'docker network connect --help'."
