"""Docker's embedded DNS in real labs, against moby's source at the two tags the lab emulates.

Sources (bare mirror of moby/moby):
* v27.5.1 ``libnetwork/resolver_unix.go`` ``Resolver.setupIPTable`` and docker-v29.7.2
  ``daemon/libnetwork/resolver_unix.go`` ``Resolver.setupIptablesNAT`` (the same four rules);
* ``resolver.go`` (both tags): ``SetupFunc(port)`` (called with 0 by
  ``sandbox_dns_unix.go`` ``Sandbox.startResolver``: kernel-chosen ports), ``serveDNS``,
  ``forwardExtDNS``, ``respTTL = 600``;
* ``internal/resolvconf/resolvconf.go`` ``TransformForIntNS`` / ``TransformForLegacyNw`` and
  ``ExtDNSEntry.String``;
* ``daemon/container_operations.go`` ``buildEndpointDNSNames`` (both tags).

Every query is bounded: ``dig +time=1 +tries=1``; the only forwarding target is the lab's own
DNS server on the router (198.51.100.1) or a lab address that refuses at once.
"""

from __future__ import annotations

import re

import pytest

DIG = "dig +time=1 +tries=1"
HOST_DNS = "198.51.100.1"      # nethelpers.world: the router's DNS server, in the hosts' resolv.conf
INTERNET = "203.0.113.10"      # what the world's DNS server answers for example.com


@pytest.fixture(params=["27", "29"])
def dns_lab(request, lab):
    """A Docker host of each version, a user-defined network and two containers on it."""
    lab.docker_host(version=request.param)
    lab.docker("network create --subnet 192.0.2.0/24 net1")
    lab.docker("run -dit --name c1 --network net1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 --network net1 nicolaka/netshoot")
    lab.version = int(request.param)
    return lab


def listening(lab, ctr: str) -> dict[str, int]:
    """{"udp": port, "tcp": port} of the sockets on 127.0.0.11 in the container."""
    found = {}
    for proto, flag in (("udp", "-lnu"), ("tcp", "-lnt")):
        out = lab.docker(f"exec {ctr} ss -H {flag}")
        ports = re.findall(r"127\.0\.0\.11:(\d+)", out)
        assert len(ports) == 1, out
        found[proto] = int(ports[0])
    return found


def expected_nat(udp: int, tcp: int) -> list[str]:
    """``iptables -t nat -S`` after setupIPTable/setupIptablesNAT in a fresh namespace: ``-N``
    DOCKER_OUTPUT and DOCKER_POSTROUTING, ``-I OUTPUT/POSTROUTING -d 127.0.0.11 -j ...``, then
    the rules in the order of ``rules`` — udp DNAT, udp SNAT, tcp DNAT, tcp SNAT — each inserted
    (``-I``) at the top of its chain, so tcp's are listed first."""
    return ["-P PREROUTING ACCEPT", "-P INPUT ACCEPT", "-P OUTPUT ACCEPT", "-P POSTROUTING ACCEPT",
            "-N DOCKER_OUTPUT", "-N DOCKER_POSTROUTING",
            "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT",
            "-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING",
            f"-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:{tcp}",
            f"-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:{udp}",
            f"-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport {tcp} -j SNAT --to-source :53",
            f"-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport {udp} -j SNAT --to-source :53"]


def status(text: str) -> str:
    return re.search(r"status: (\w+)", text).group(1)


def resolver_sockets(lab) -> int:
    """Sockets the lab's one resolver process (lab-dns, dockerd's stand-in) holds."""
    found = lab.run_in_sandbox("pgrep -P 1 -x lab-dns").stdout.split()
    if not found:
        return 0
    return lab.run_in_sandbox(f"ls -l /proc/{found[0]}/fd").stdout.count("socket:")


def test_nat_rules_in_the_container_are_setup_iptables(dns_lab):
    """resolver_unix.go setupIPTable (v27.5.1) / setupIptablesNAT (docker-v29.7.2): the same rules,
    to the ports SetupFunc(0) got — ephemeral ones (32768-60999), not 53."""
    ports = listening(dns_lab, "c1")
    for port in ports.values():
        assert 32768 <= port <= 60999 and port != 53
    # (the container itself cannot read them: no NET_ADMIN; the lab's node view is nsenter's)
    rules = dns_lab["c1"].run("iptables -t nat -S", check=True).stdout.splitlines()
    assert rules == expected_nat(ports["udp"], ports["tcp"])


def test_ports_do_not_change_from_run_to_run(lab):
    """The lab's stand-in for the kernel's random pick is drawn from the container's name: the same
    ports in another lab (notebook outputs repeat)."""
    from nethelpers.sandbox.dns import ports

    lab.docker_host(version="27")
    lab.docker("network create net1")
    lab.docker("run -dit --name c1 --network net1 nicolaka/netshoot")
    udp, tcp = next(ports("c1"))
    assert listening(lab, "c1") == {"udp": udp, "tcp": tcp}


def test_names_answer_through_the_dnat_with_ttl_600(dns_lab):
    """serveDNS handleIPQuery: recursion available, respTTL 600; port 53 reaches the resolver only
    through the DNAT (nothing listens on 53)."""
    assert "127.0.0.11:53 " not in dns_lab.docker("exec c1 ss -H -lnu")
    out = dns_lab.docker(f"exec c1 {DIG} +noall +answer +comments c2")
    assert status(out) == "NOERROR"
    assert out.split("ANSWER SECTION:")[1].split() == ["c2.", "600", "IN", "A", "192.0.2.3"]
    tcp = dns_lab.docker(f"exec c1 {DIG} +tcp +short c2.net1")
    assert tcp.split() == ["192.0.2.3"]


def test_ptr_names_the_first_dns_name_and_the_network(dns_lab):
    """network.go updateSvcRecord: only the first DNS name (the container's) goes in the ipMap;
    ResolveIP answers ``name + "." + network``."""
    dns_lab.docker("run -dit --name c3 --network net1 --network-alias db nicolaka/netshoot")
    assert dns_lab.docker(f"exec c1 {DIG} +short -x 192.0.2.4").split() == ["c3.net1."]


def test_resolv_conf_names_the_embedded_server_and_the_hosts_servers(dns_lab):
    """TransformForIntNS: ``nameserver 127.0.0.11``, the host's servers as ExtServers — at 29 marked
    ``host(...)`` (HostLoopback: !NSOverride), at 27 only loopback ones are (none here)."""
    text = dns_lab.docker("exec c1 cat /etc/resolv.conf")
    assert "\nnameserver 127.0.0.11\noptions ndots:0\n" in text
    ext = HOST_DNS if dns_lab.version == 27 else f"host({HOST_DNS})"
    assert f"# ExtServers: [{ext}]\n" in text


def test_a_name_docker_does_not_know_is_answered_by_the_worlds_server(dns_lab):
    """forwardExtDNS: the external server's answer is passed on as it came (its own TTL, not 600)."""
    out = dns_lab.docker(f"exec c1 {DIG} +noall +answer +comments example.com")
    assert status(out) == "NOERROR"
    name, ttl, _, rtype, address = out.split("ANSWER SECTION:")[1].split()
    assert (name, rtype, address) == ("example.com.", "A", INTERNET) and ttl != "600"
    assert dns_lab.docker(f"exec c1 {DIG} +tcp +short www.example.com").split() == [INTERNET]
    # a query type the embedded DNS does not serve (TXT) is forwarded even for a container's name
    assert status(dns_lab.docker(f"exec c1 {DIG} +noall +comments c2 TXT")) == "NXDOMAIN"


def test_a_name_unknown_to_both_is_nxdomain(dns_lab):
    """forwardExtDNS returns any answer other than SERVFAIL/REFUSED: the world's NXDOMAIN."""
    out = dns_lab.docker(f"exec c1 {DIG} +noall +comments nosuch.example")
    assert status(out) == "NXDOMAIN"


def test_servfail_when_no_external_server_answers(lab):
    """serveDNS: ``resp == nil`` after forwardExtDNS -> ``SetRcode(query, RcodeServerFailure)``.
    --dns names the lan-client, which runs no DNS server (it refuses at once: port unreachable);
    an override is not ``host(...)`` (NSOverride)."""
    lab.docker_host(version="29")
    lab.docker("network create net1")
    lab.docker("run -dit --name c1 --network net1 --dns 198.51.100.20 nicolaka/netshoot")
    assert "# ExtServers: [198.51.100.20]\n" in lab.docker("exec c1 cat /etc/resolv.conf")
    assert status(lab.docker(f"exec c1 {DIG} +noall +comments example.com")) == "SERVFAIL"
    assert lab.docker(f"exec c1 {DIG} +short c1").split() == ["172.18.0.2"]  # its own names still answer


def test_default_bridge_has_no_embedded_dns_and_asks_the_hosts_server(lab):
    """TransformForLegacyNw: the host's nameservers minus loopback ones, ``(legacy)``; no resolver,
    so no DOCKER_OUTPUT rules; the container asks the world's server itself."""
    lab.docker_host(version="27")
    lab.docker("run -dit --name b1 nicolaka/netshoot")
    text = lab.docker("exec b1 cat /etc/resolv.conf")
    assert f"\nnameserver {HOST_DNS}\n" in text and "127.0.0.11" not in text
    assert "# Based on host file: '/etc/resolv.conf' (legacy)\n" in text
    assert "DOCKER_OUTPUT" not in lab["b1"].run("iptables -t nat -S", check=True).stdout
    assert lab.docker(f"exec b1 {DIG} +short example.com").split() == [INTERNET]


def test_rules_and_sockets_go_with_the_container(dns_lab):
    """The resolver is stopped with the sandbox (sandbox.go Sandbox.delete: resolver.Stop) and its
    rules die with the container's namespace: the lab deletes them where the node lives on."""
    before = resolver_sockets(dns_lab)
    dns_lab.docker("stop c1")
    node = dns_lab.node("c1")
    assert "DOCKER_OUTPUT" not in node.run("iptables -t nat -S").stdout
    assert "127.0.0.11" not in node.run("ss -H -lnut").stdout
    assert resolver_sockets(dns_lab) == before - 2
    dns_lab.docker("rm -f c2")
    assert resolver_sockets(dns_lab) == before - 4
    assert "c2" not in {n.name for n in dns_lab.nodes()}


def test_hostname_is_a_dns_name_on_user_defined_networks(dns_lab):
    """container_operations.go buildEndpointDNSNames (v27.5.1 and docker-v29.7.2): the container's
    name, its aliases, its short ID and ``ctr.Config.Hostname`` (deduplicated)."""
    dns_lab.docker("run -dit --name c3 --network net1 --hostname web3 nicolaka/netshoot")
    assert dns_lab.docker(f"exec c1 {DIG} +short web3").split() == ["192.0.2.4"]


def test_the_nftables_backend_puts_the_translations_in_a_docker_dns_table(lab):
    """docker-v29.7.2 daemon/libnetwork/resolver_unix.go setupNftablesNAT: with
    --firewall-backend=nftables, table ip docker-dns with base chains dns-dnat (nat, output,
    BaseChainPriorityDstNAT = -100) and dns-snat (nat, postrouting, srcnat = 100), each rule with a
    counter, in that order; no DOCKER_OUTPUT chain. The lab removes the table when the resolver goes."""
    lab.docker_host(version="29", firewall_backend="nftables")
    lab.docker("network create --subnet 10.9.0.0/24 lan")
    lab.docker("run -dit --name c1 --network lan nicolaka/netshoot")
    lab.docker("run -dit --name c2 --network lan busybox")
    udp, tcp = listening(lab, "c1")["udp"], listening(lab, "c1")["tcp"]
    table = [line.strip() for line in lab["c1"].run("nft list table ip docker-dns", check=True).stdout.splitlines()]
    assert [line for line in table if line] == [
        "table ip docker-dns {", "chain dns-dnat {", "type nat hook output priority -100; policy accept;",
        f"ip daddr 127.0.0.11 udp dport 53 counter packets 0 bytes 0 dnat to 127.0.0.11:{udp}",
        f"ip daddr 127.0.0.11 tcp dport 53 counter packets 0 bytes 0 dnat to 127.0.0.11:{tcp}", "}",
        "chain dns-snat {", "type nat hook postrouting priority srcnat; policy accept;",
        f"ip saddr 127.0.0.11 udp sport {udp} counter packets 0 bytes 0 snat to :53",
        f"ip saddr 127.0.0.11 tcp sport {tcp} counter packets 0 bytes 0 snat to :53", "}", "}"]
    assert "DOCKER_OUTPUT" not in lab["c1"].run("iptables -t nat -S", check=True).stdout
    assert lab.docker(f"exec c1 {DIG} +short c2").split() == ["10.9.0.3"]
    assert lab.docker(f"exec c1 {DIG} +short +tcp c2").split() == ["10.9.0.3"]
    lab.docker("network disconnect lan c1")
    assert "docker-dns" not in lab["c1"].run("nft list tables", check=True).stdout
