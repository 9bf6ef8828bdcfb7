"""libnetwork's CNM in a real lab: lifecycle rules, drivers doing kernel work, and the
remote-driver protocol over a unix socket with a real plugin process."""

from __future__ import annotations

import pytest

from nethelpers.cnm import (Controller, DriverFailure, Forbidden, InvalidParameter, NoSuchObject, PluginError,
                            format_exchanges, start_plugin)
from nethelpers.errors import InvalidValue, NotFound

from conftest import pings


def links(lab, node: str) -> dict[str, dict]:
    return {link["name"]: link for link in lab.snapshot([node])[node]["links"]}


def routes(lab, node: str) -> str:
    return lab[node].run("ip route", check=True).stdout


def kernel(lab) -> dict:
    """What a refusal must leave as it was: every node's links, addresses and routes."""
    return {name: (sorted((link["name"], link.get("master")) for link in snap["links"]),
                   sorted(map(str, snap.get("addresses", []))), sorted(map(str, snap.get("routes", []))))
            for name, snap in lab.snapshot().items()}


def test_bridge_driver_builds_what_libnetwork_builds(lab):
    ctl = Controller(lab)
    net = ctl.new_network("bridge", "front")
    assert net.ipv4_data == [{"AddressSpace": "LocalDefault", "Gateway": "172.17.0.1/16", "Pool": "172.17.0.0/16"}]
    bridge = "br-" + net.id[:12]
    ep = net.create_endpoint("web")
    assert (ep.address, ep.mac) == ("172.17.0.2/16", "02:42:ac:11:00:02")
    host_links = links(lab, "host")
    veths = [n for n, link in host_links.items() if link["kind"] == "veth"]
    assert len(veths) == 2 and all(n.startswith("veth") and len(n) == 11 for n in veths)
    assert [host_links[n].get("master") for n in sorted(veths)].count(bridge) == 1
    sb = ctl.new_sandbox("c1")
    ep.join(sb)
    src = ep.join_info["InterfaceName"]["SrcName"]
    assert ep.join_info["InterfaceName"]["DstPrefix"] == "eth" and ep.join_info["Gateway"] == "172.17.0.1"
    assert src not in links(lab, "host")  # moved into the sandbox ...
    c1 = links(lab, "c1")
    assert set(c1) == {"lo", "eth0"} and c1["eth0"]["mac"] == "02:42:ac:11:00:02"  # ... and renamed
    assert "172.17.0.2/16" in lab["c1"].run("ip -br addr show eth0").stdout
    assert "default via 172.17.0.1 dev eth0" in routes(lab, "c1")
    assert pings(lab["c1"], "172.17.0.1")
    assert sb.key == "/run/netns/c1" and ep.ifname == "eth0"

    ep.leave(sb)
    assert set(links(lab, "c1")) == {"lo"} and src in links(lab, "host")  # back, with its name
    ep.delete()
    net.delete()
    sb.delete()
    assert set(links(lab, "host")) == {"lo"} and "c1" not in [n.name for n in lab.nodes()]
    # the log reads as the commands libnetwork's bridge driver and osl would run
    # (moby v27.5.1 libnetwork/drivers/bridge/setup_device_linux.go, bridge_linux.go createEndpoint,
    # osl/interface_linux.go AddInterface): the bridge, the veth pair, the move and rename, the route
    commands = ctl.commands
    made = commands.index(f"ip link add {bridge} type bridge")
    assert commands[made + 1:made + 3] == [f"ip addr add 172.17.0.1/16 dev {bridge}", f"ip link set {bridge} up"]
    moved = commands.index(f"ip link set {src} netns c1")
    assert commands[moved + 1] == f"ip -n c1 link set {src} name eth0 address 02:42:ac:11:00:02"
    assert "ip -n c1 route add default via 172.17.0.1" in commands[moved:]
    assert not any(c.startswith("iptables") for c in commands)  # Controller(lab): as dockerd --iptables=false
    assert commands[-1] == "ip link del " + bridge
    assert ctl.exchanges == []  # built-in drivers speak no JSON


def test_lifecycle_rules_give_libnetworks_messages_and_change_nothing(lab):
    ctl = Controller(lab)
    net = ctl.new_network("bridge", "front")
    ep = net.create_endpoint("web")
    sb, sb2 = ctl.new_sandbox("c1"), ctl.new_sandbox("c2")
    ep.join(sb)
    before = kernel(lab)
    refusals = [
        (net.delete, Forbidden, f"network front id {net.id} has active endpoints"),
        (lambda: net.create_endpoint("web"), Forbidden, "endpoint with name web already exists in network front"),
        (lambda: ep.join(sb), Forbidden, "another container is attached to the same network endpoint"),
        (lambda: ep.join(sb2), Forbidden, "another container is attached to the same network endpoint"),
        (ep.delete, Forbidden, f"endpoint with name web id {ep.id} has active containers"),
        (lambda: ep.leave(sb2), Forbidden,
         f"unexpected sandbox ID in leave request. Expected {sb.id}. Got {sb2.id}"),
        (lambda: ctl.new_network("bridge", "front"), Forbidden, "network with name front already exists"),
        (lambda: ctl.new_network("bridge", " "), InvalidParameter, "invalid name:  "),
        (lambda: ctl.new_sandbox("c1"), Forbidden, f"container c1 is already present in sandbox {sb.id}"),
        (lambda: ctl.new_network("nosuch", "x"), NoSuchObject,
         "could not find plugin nosuch in v1 plugin registry: plugin not found"),
    ]
    for action, kind, text in refusals:
        with pytest.raises(kind) as info:
            action()
        assert info.value.libnetwork == text
        assert str(info.value).startswith(text + " (")  # and a fix after it
    assert kernel(lab) == before
    assert list(net.endpoints) == ["web"] and ep.sandbox is sb and list(ctl.networks) == ["front"]
    ep.leave(sb)
    with pytest.raises(Forbidden, match="cannot leave endpoint with no attached sandbox"):
        ep.leave(sb)
    ep.join(sb2)  # an endpoint that left may join another sandbox
    assert "eth0" in links(lab, "c2")


def test_a_join_that_fails_leaves_the_endpoint_free_to_join_again(lab):
    """moby v27.5.1 libnetwork/endpoint.go ``sbJoin``: once the driver's Join succeeded, an error
    later (here ``populateNetworkResources``: the sandbox has an eth0 already, so the rename of
    the veth fails) calls the driver's ``Leave`` and sets ``ep.sandboxID = ""`` again, so the
    endpoint is not "attached" to the sandbox it never reached; its veth is back on the host."""
    ctl = Controller(lab)
    net = ctl.new_network("bridge", "front")
    ep = net.create_endpoint("web")
    sb = ctl.new_sandbox("c1")
    lab["c1"].run("ip link add eth0 type bridge", check=True)  # the name the endpoint's interface needs
    host_before = set(links(lab, "host"))
    with pytest.raises(DriverFailure, match="File exists"):
        ep.join(sb)
    assert ep.sandbox is None and set(links(lab, "host")) == host_before
    assert set(links(lab, "c1")) == {"lo", "eth0"} and links(lab, "c1")["eth0"]["kind"] == "bridge"
    ep.join(ctl.new_sandbox("c2"))  # not "another container is attached to the same network endpoint"
    assert links(lab, "c2")["eth0"]["mac"] == ep.mac

def test_null_and_host_networks(lab):
    ctl = Controller(lab)
    none, host = ctl.new_network("null", "none"), ctl.new_network("host", "host")
    assert none.ipv4_data == [] and host.ipv4_data == []  # special drivers take no IPAM pool
    for kind in ("null", "host"):
        with pytest.raises(Forbidden, match=f'only one instance of "{kind}" network is allowed'):
            ctl.new_network(kind, "second-" + kind)
    with pytest.raises(Forbidden, match='network of type "null" cannot be deleted'):
        none.delete()
    assert "none" in ctl.networks
    sb = ctl.new_sandbox("c1")
    ep = none.create_endpoint("c1")
    ep.join(sb)
    assert set(links(lab, "c1")) == {"lo"} and routes(lab, "c1") == "" and ep.address == ""
    hsb = ctl.new_sandbox("h1", use_default_sandbox=True)
    assert hsb.key == "/run/netns/host" and hsb.node == "host"
    hep = host.create_endpoint("h1")
    hep.join(hsb)
    assert set(links(lab, "host")) == {"lo"}
    hsb.delete()
    assert "host" in [n.name for n in lab.nodes()]  # the default sandbox is the host's: it stays
    sb.delete()
    assert "c1" not in [n.name for n in lab.nodes()] and none.endpoints == {}


def test_sandbox_with_two_networks_moves_the_default_gateway(lab):
    ctl = Controller(lab)
    a = ctl.new_network("bridge", "a")
    b = ctl.new_network("bridge", "b", subnet="192.0.2.0/24", gateway="192.0.2.254")
    assert (a.subnet, b.subnet, b.gateway) == ("172.17.0.0/16", "192.0.2.0/24", "192.0.2.254/24")
    sb = ctl.new_sandbox("c1")
    ea, eb = a.create_endpoint("c1"), b.create_endpoint("c1", ip="192.0.2.10")
    ea.join(sb)
    eb.join(sb)
    assert (ea.ifname, eb.ifname) == ("eth0", "eth1")
    assert "default via 172.17.0.1 dev eth0" in routes(lab, "c1")
    ea.leave(sb)
    assert "default via 192.0.2.254 dev eth1" in routes(lab, "c1")
    ea.join(sb)
    assert ea.ifname == "eth2"  # libnetwork's per-prefix index only grows
    other = ctl.new_sandbox("c2")
    eo = b.create_endpoint("c2")
    eo.join(other)
    assert eo.address == "192.0.2.1/24" and pings(lab["c2"], "192.0.2.10")
    sb.delete()
    other.delete()
    a.delete()
    b.delete()
    assert set(links(lab, "host")) == {"lo"}


def test_default_ipam_pools_and_addresses():
    from nethelpers.cnm.ipam import DefaultIpam

    ipam = DefaultIpam()
    assert ipam.get_default_address_spaces() == {"LocalDefaultAddressSpace": "LocalDefault",
                                                 "GlobalDefaultAddressSpace": "GlobalDefault"}
    first = ipam.request_pool({"AddressSpace": "LocalDefault"})
    second = ipam.request_pool({"AddressSpace": "LocalDefault"})
    assert (first["PoolID"], second["Pool"]) == ("LocalDefault/172.17.0.0/16", "172.18.0.0/16")
    mine = ipam.request_pool({"AddressSpace": "LocalDefault", "Pool": "10.1.0.0/24", "SubPool": "10.1.0.128/25"})
    assert mine["PoolID"] == "LocalDefault/10.1.0.0/24/10.1.0.128/25"
    assert ipam.request_address({"PoolID": mine["PoolID"]})["Address"] == "10.1.0.128/24"
    with pytest.raises(Forbidden, match="Pool overlaps with other one on this address space"):
        ipam.request_pool({"AddressSpace": "LocalDefault", "Pool": "172.17.5.0/24"})
    assert ipam.request_address({"PoolID": first["PoolID"], "Address": "172.17.0.9"})["Address"] == "172.17.0.9/16"
    with pytest.raises(Forbidden, match="^Address already in use"):
        ipam.request_address({"PoolID": first["PoolID"], "Address": "172.17.0.9"})
    with pytest.raises(InvalidParameter, match="requested address is out of range"):
        ipam.request_address({"PoolID": first["PoolID"], "Address": "10.9.9.9"})
    with pytest.raises(InvalidParameter, match="invalid pool id: nope"):
        ipam.request_address({"PoolID": "nope"})
    ipam.release_address({"PoolID": first["PoolID"], "Address": "172.17.0.9"})
    assert ipam.request_address({"PoolID": first["PoolID"], "Address": "172.17.0.9"})
    ipam.release_pool({"PoolID": first["PoolID"]})
    assert ipam.request_pool({"AddressSpace": "LocalDefault"})["Pool"] == "172.17.0.0/16"  # free again


LIFECYCLE_ORDER = [
    "Plugin.Activate", "NetworkDriver.GetCapabilities", "IpamDriver.GetCapabilities",
    # NewNetwork: address space, pool (remote IPAM asks the spaces again), gateway, then the driver
    "IpamDriver.GetDefaultAddressSpaces", "IpamDriver.GetDefaultAddressSpaces", "IpamDriver.RequestPool",
    "IpamDriver.RequestAddress", "NetworkDriver.CreateNetwork",
    "IpamDriver.RequestAddress", "NetworkDriver.CreateEndpoint",                 # CreateEndpoint
    "NetworkDriver.Join", "NetworkDriver.ProgramExternalConnectivity",           # Join
    "NetworkDriver.RevokeExternalConnectivity", "NetworkDriver.Leave",          # Leave
    "NetworkDriver.DeleteEndpoint", "IpamDriver.ReleaseAddress",                 # Delete endpoint
    "IpamDriver.ReleaseAddress", "IpamDriver.ReleasePool", "NetworkDriver.DeleteNetwork",  # Delete network
]


def test_remote_protocol_in_libnetworks_order(lab):
    ctl = Controller(lab)
    plugin = start_plugin(lab["host"], "labnet")
    assert ctl.register_plugin("labnet") == {"Implements": ["NetworkDriver", "IpamDriver"]}
    net = ctl.new_network("labnet", "pl", ipam="labnet", options={"mtu": "1400"})
    ep = net.create_endpoint("web")
    sb = ctl.new_sandbox("c1")
    ep.join(sb)
    ex = {e["method"]: e for e in ctl.exchanges}
    src = ex["NetworkDriver.Join"]["response"]["InterfaceName"]["SrcName"]
    assert src.startswith("veth") and src not in links(lab, "host")
    assert links(lab, "c1")["eth0"]["mac"] == ep.mac == "02:42:0a:63:00:02"  # the plugin's veth, renamed
    assert "default via 10.99.0.1 dev eth0" in routes(lab, "c1")
    assert pings(lab["c1"], "10.99.0.1")  # the plugin's bridge, in the host node, answers
    ep.leave(sb)
    ep.delete()
    net.delete()
    assert [e["method"] for e in ctl.exchanges] == LIFECYCLE_ORDER
    assert set(links(lab, "host")) == {"lo"}  # the plugin removed its bridge and veths

    ex = {e["method"]: e for e in ctl.exchanges}
    assert ex["Plugin.Activate"]["request"] is None
    assert ex["NetworkDriver.GetCapabilities"]["response"] == {"Scope": "local", "ConnectivityScope": "local"}
    assert ex["IpamDriver.RequestPool"]["request"] == {"AddressSpace": "labnet-local", "Pool": "", "SubPool": "",
                                                       "Options": {}, "V6": False}
    gateway = ctl.exchanges[6]
    assert gateway["request"]["Options"] == {"RequestAddressType": "com.docker.network.gateway"}
    assert gateway["response"] == {"Address": "10.99.0.1/24", "Data": {}}
    assert ex["NetworkDriver.CreateNetwork"]["request"] == {
        "NetworkID": net.id,
        "Options": {"com.docker.network.enable_ipv6": False, "com.docker.network.generic": {"mtu": "1400"}},
        "IPv4Data": [{"AddressSpace": "labnet-local", "Gateway": "10.99.0.1/24", "Pool": "10.99.0.0/24"}],
        "IPv6Data": None}
    assert ex["NetworkDriver.CreateEndpoint"]["request"]["Interface"] == {
        "Address": "10.99.0.2/24", "AddressIPv6": "", "MacAddress": ""}
    assert ex["NetworkDriver.Join"]["request"]["SandboxKey"] == "/run/netns/c1"
    assert ex["NetworkDriver.ProgramExternalConnectivity"]["status"] == 404  # optional: tolerated
    assert all(e["content_type"] == "application/vnd.docker.plugins.v1.2+json"
               for e in ctl.exchanges if e["status"] == 200)
    text = format_exchanges(ctl.exchanges)
    assert "POST /NetworkDriver.Join" in text and '"DstPrefix": "eth"' in text
    assert "/NetworkDriver.DeleteNetwork -> 200" in plugin.stop()


def test_remote_driver_with_default_ipam_connects_two_sandboxes(lab):
    ctl = Controller(lab)
    start_plugin(lab["host"], "labnet")
    ctl.register_plugin("labnet")
    net = ctl.new_network("labnet", "pl", subnet="198.18.0.0/24")
    assert not any(e["method"].startswith("IpamDriver.Request") for e in ctl.exchanges)  # built-in IPAM
    sandboxes = []
    for name in ("c1", "c2"):
        sb = ctl.new_sandbox(name)
        net.create_endpoint(name).join(sb)
        sandboxes.append(sb)
    assert net.endpoint("c2").address == "198.18.0.3/24"
    assert pings(lab["c1"], "198.18.0.3")
    with pytest.raises(Forbidden, match="has active endpoints"):
        net.delete()
    for sb in sandboxes:
        sb.delete()
    net.delete()
    assert set(links(lab, "host")) == {"lo"}


def test_remote_errors(lab):
    ctl = Controller(lab)
    with pytest.raises(NoSuchObject, match="could not find plugin labnet in v1 plugin registry"):
        ctl.register_plugin("labnet")
    start_plugin(lab["host"], "labnet", pools=["10.50.0.0/30"])
    ctl.register_plugin("labnet")
    net = ctl.new_network("labnet", "pl", ipam="labnet")
    assert net.subnet == "10.50.0.0/30"
    net.create_endpoint("one")  # .1 is the gateway, .2 the endpoint: the /30 is full
    before = kernel(lab)
    with pytest.raises(PluginError) as info:  # an IPAM answer {"Error": ...}
        net.create_endpoint("two")
    assert info.value.libnetwork == ("remote: no available IPv4 addresses on this network's address pools: "
                                     "10.50.0.0/30")
    assert ctl.exchanges[-1]["response"] == {"Error": "no available IPv4 addresses on this network's address pools: 10.50.0.0/30"}
    with pytest.raises(PluginError) as info:  # an unknown method: 404
        ctl.plugins["labnet"].call("NetworkDriver.NoSuchMethod", {})
    assert info.value.status == 404 and info.value.libnetwork == "NetworkDriver.NoSuchMethod: 404 page not found\n"
    with pytest.raises(PluginError, match="remote: network nope does not exist"):  # {"Err": ...}
        ctl.plugins["labnet"].call("NetworkDriver.DeleteNetwork", {"NetworkID": "nope"})
    assert kernel(lab) == before and list(net.endpoints) == ["one"]
    with pytest.raises(InvalidValue, match="outside the lab's sockets"):
        lab._call("http", "/var/lib/x.sock", "POST", "/Plugin.Activate", None, 5)
    with pytest.raises(NotFound, match="nothing listens on /run/docker/plugins/other.sock"):
        lab._call("http", "/run/docker/plugins/other.sock", "POST", "/Plugin.Activate", None, 5)
