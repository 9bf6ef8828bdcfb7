"""``docker inspect`` / ``docker network inspect``: Docker's keys, in Docker's order, per engine.

Orders are the Go structs' field orders (maps: sorted keys):
* v27.5.1 api/types/types.go ContainerJSONBase + ContainerJSON, NetworkSettingsBase +
  DefaultNetworkSettings; api/types/container/config.go Config; api/types/network/endpoint.go
  EndpointSettings; api/types/network/network.go Inspect; daemon/network.go buildIPAMResources
  (the IpamConf as asked: no Gateway key without --gateway).
* docker-v29.7.2 api/types/container/container.go InspectResponse, network_settings.go
  (SandboxID, SandboxKey, Ports, Networks only), config.go (no MacAddress, OnBuild omitempty),
  network/endpoint.go (GwPriority; MacAddress after IPAddress), network/inspect.go + network.go
  (EnableIPv4; Containers after the embedded Network; Status for API >= 1.52,
  daemon/server/router/network/network_routes.go), daemon/network.go buildIPAMResources (the
  allocated gateway filled in), daemon/inspect.go (Storage with the containerd store).
* HostConfig values: cli/command/container/opts.go parse (PortBindings HostIp as given, "" when
  none), daemon_unix.go adaptContainerSettings (ShmSize, IpcMode, CgroupnsMode, OomKillDisable).
"""

from __future__ import annotations

import json

import pytest

TOP = {
    "27": ["Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath",
           "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel", "ProcessLabel",
           "AppArmorProfile", "ExecIDs", "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"],
    "29": ["Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath",
           "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel", "ProcessLabel",
           "AppArmorProfile", "ExecIDs", "HostConfig", "Storage", "Mounts", "Config", "NetworkSettings",
           "ImageManifestDescriptor"],
}
CONFIG = {
    "27": ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
           "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild",
           "Labels", "StopSignal"],
    "29": ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
           "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "Labels",
           "StopSignal"],
}
SETTINGS = {
    "27": ["Bridge", "SandboxID", "SandboxKey", "Ports", "HairpinMode", "LinkLocalIPv6Address",
           "LinkLocalIPv6PrefixLen", "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID", "Gateway",
           "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen", "IPv6Gateway", "MacAddress",
           "Networks"],
    "29": ["SandboxID", "SandboxKey", "Ports", "Networks"],
}
ENDPOINT = {
    "27": ["IPAMConfig", "Links", "Aliases", "MacAddress", "DriverOpts", "NetworkID", "EndpointID", "Gateway",
           "IPAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "DNSNames"],
    "29": ["IPAMConfig", "Links", "Aliases", "DriverOpts", "GwPriority", "NetworkID", "EndpointID", "Gateway",
           "IPAddress", "MacAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen",
           "DNSNames"],
}
NETWORK = {
    "27": ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal", "Attachable", "Ingress",
           "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"],
    "29": ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv4", "EnableIPv6", "IPAM", "Internal",
           "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Options", "Labels", "Containers", "Status"],
}


@pytest.mark.parametrize("version", ["27", "29"])
def test_container_inspect_keys_in_order(lab, version):
    lab.docker_host(version=version)
    lab.docker("network create --subnet 10.9.0.0/24 net2")
    lab.docker("run -d --name web -p 8080:80 -p 127.0.0.1:8443:443 nginx")
    lab.docker("run -dit --name c1 --network net2 --network-alias db busybox")
    web, = json.loads(lab.docker("inspect web"))
    assert list(web) == TOP[version]
    assert list(web["Config"]) == CONFIG[version]
    assert list(web["NetworkSettings"]) == SETTINGS[version]
    assert list(web["NetworkSettings"]["Networks"]["bridge"]) == ENDPOINT[version]
    assert web["Image"].startswith("sha256:") and len(web["Image"]) == 71
    assert (web["Path"], web["Args"]) == ("/docker-entrypoint.sh", ["nginx", "-g", "daemon off;"])
    assert web["Config"]["ExposedPorts"] == {"443/tcp": {}, "80/tcp": {}}
    assert web["HostConfig"]["PortBindings"] == {"443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}],
                                                 "80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert web["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "8080"}]
    hc = web["HostConfig"]
    assert (hc["ShmSize"], hc["IpcMode"], hc["CgroupnsMode"], hc["OomKillDisable"], hc["PidsLimit"],
            hc["MemorySwappiness"], hc["Runtime"]) == (67108864, "private", "private", False, None, None, "runc")
    assert list(hc)[:6] == ["Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy"]
    c1, = json.loads(lab.docker("inspect c1"))
    ep = c1["NetworkSettings"]["Networks"]["net2"]
    assert ep["Aliases"] == ["db"]
    assert ep["DNSNames"] == ["c1", "db", c1["Id"][:12]]  # buildEndpointDNSNames (hostname = short ID)


@pytest.mark.parametrize("version", ["27", "29"])
def test_network_inspect_keys_and_gateway(lab, version):
    lab.docker_host(version=version)
    lab.docker("network create --subnet 10.9.0.0/24 net2")
    lab.docker("network create --subnet 10.8.0.0/24 --gateway 10.8.0.254 net3")
    lab.docker("run -dit --name c1 --network net2 busybox")
    net2, net3, bridge = json.loads(lab.docker("network inspect net2 net3 bridge"))
    assert list(net2) == NETWORK[version]
    # 27 prints the IpamConf as asked; 29 fills the allocated gateway in
    assert net2["IPAM"]["Config"] == ([{"Subnet": "10.9.0.0/24"}] if version == "27"
                                      else [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}])
    assert net3["IPAM"]["Config"] == [{"Subnet": "10.8.0.0/24", "Gateway": "10.8.0.254"}]
    assert bridge["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
    assert list(net2["Containers"].values())[0]["Name"] == "c1"
    if version == "29":  # network, broadcast, gateway, c1 (defaultipam newPoolData + allocations)
        assert net2["Status"] == {"IPAM": {"Subnets": {"10.9.0.0/24": {"IPsInUse": 4, "DynamicIPsAvailable": 252}}}}


@pytest.mark.parametrize("version", ["27", "29"])
def test_exited_container_keeps_its_networks_without_operational_data(lab, version):
    """releaseNetwork: Ports nil, SandboxID/SandboxKey "", cleanOperationalData on each endpoint
    (NetworkID kept)."""
    lab.docker_host(version=version)
    lab.docker(["run", "--name", "fg", "busybox", "sh", "-c", "exit 3"])
    fg, = json.loads(lab.docker("inspect fg"))
    settings = fg["NetworkSettings"]
    assert (settings["SandboxID"], settings["SandboxKey"], settings["Ports"]) == ("", "", {})
    bridge = settings["Networks"]["bridge"]
    assert len(bridge["NetworkID"]) == 64
    assert (bridge["EndpointID"], bridge["IPAddress"], bridge["MacAddress"]) == ("", "", "")


def test_a_field_29_dropped_prints_no_value(lab):
    """The CLI's inspect runs the template on the JSON decoded into a map: a key the daemon no
    longer sends (API 1.52 dropped NetworkSettings.IPAddress) is Go text/template's "<no value>"."""
    lab.docker_host(version="29")
    lab.docker("run -dit --name c1 busybox")
    assert lab.docker("inspect -f '{{.NetworkSettings.IPAddress}}' c1") == "<no value>\n"
    assert lab.docker("inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' c1") == "172.17.0.2\n"
