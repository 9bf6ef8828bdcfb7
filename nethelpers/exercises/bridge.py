"""Exercises of notebook 01 (bridge)."""

from __future__ import annotations

import ipaddress
import sys

from ..i18n import N_, _
from . import Exercise, addresses, default_gateway, docker_host, is_ipv4, link, node_names, pings, word_after


def _app3_setup(lab):
    """A fresh, empty app3 (removing it also removes its cable, whose other end is in myhost)."""
    if "app3" in node_names(lab):
        lab.remove_node("app3")
    lab.add_node("app3", kind="container", parent="myhost")


def _app3_solution(lab):
    lab.add_veth("myhost:veth3", "app3:eth0", master="br0")
    lab["app3"].add_address("eth0", "10.0.0.5/24")
    lab["app3"].add_route("default", via="10.0.0.1")


def _app3_exists(lab):
    if "app3" not in node_names(lab):
        return _("there is no node app3: run the exercise's first cell (OWN_WAY_OUT.start(lab)) to make it")


def _app3_cable(lab):
    eth0 = link(lab, "app3", "eth0")
    if eth0 is None:
        return _("app3 has no eth0: create a veth pair with one end in myhost and the other as app3's eth0: "
                 "on myhost, ip link add veth3 type veth peer name eth0 netns app3 "
                 "(or lab.add_veth(\"myhost:veth3\", \"app3:eth0\"))")
    if eth0["kind"] != "veth" or eth0.get("peer_node") != "myhost":
        return _("app3's eth0 is a {kind} whose other end is not in myhost: "
                 "it should be a veth to myhost").format(kind=eth0["kind"])


def _app3_on_bridge(lab):
    peer = link(lab, "app3", "eth0")["peer"]
    host_end = link(lab, "myhost", peer)
    if host_end.get("master") != "br0":
        return _("myhost's end of the cable ({peer}) is not plugged into the bridge br0: on myhost, "
                 "ip link set {peer} master br0 "
                 "(or lab[\"myhost\"].set_link({peer_literal}, master=\"br0\"))").format(peer=peer,
                                                                                   peer_literal=repr(peer))


def _app3_address(lab):
    subnet = ipaddress.ip_network("10.0.0.0/24")
    mine = [a for a in addresses(lab, "app3", "eth0") if ipaddress.ip_interface(a).ip in subnet]
    if not mine:
        return _("app3's eth0 has no address in 10.0.0.0/24: give it a free one, e.g. 10.0.0.5/24")
    if ipaddress.ip_interface(mine[0]).network != subnet:
        return _("app3's address {address} has the wrong prefix length: use /24, like the others").format(
            address=mine[0])


def _app3_route(lab):
    gateway = default_gateway(lab, "app3")
    if gateway is None:
        return _("app3 has no default route: add one via the bridge's address: on myhost, "
                 "ip netns exec app3 ip route add default via 10.0.0.1")
    if gateway != "10.0.0.1":
        return _("app3's default route goes via {gateway}; it should go via the bridge, 10.0.0.1").format(
            gateway=gateway)


def _app3_out(lab):
    if not pings(lab, "app3", "203.0.113.10"):
        return _("app3 cannot reach 203.0.113.10 although its own setup looks right: "
                 "are ip_forward and the MASQUERADE rule on myhost still in place?")


OWN_WAY_OUT = Exercise(N_("a third container with its own way out"), [
    (N_("node app3 exists"), _app3_exists),
    (N_("app3 has an eth0 cable to myhost"), _app3_cable),
    (N_("the cable's other end is plugged into br0"), _app3_on_bridge),
    (N_("app3 has an address on 10.0.0.0/24"), _app3_address),
    (N_("app3's default route goes via 10.0.0.1"), _app3_route),
    (N_("app3 reaches the internet server 203.0.113.10"), _app3_out),
], setup=_app3_setup, solution=_app3_solution)


def _publish_setup(lab):
    """No rule for port 9090 on myhost, and app2's web server running."""
    host = lab.node("myhost")
    for rule in host.run("iptables -t nat -S PREROUTING").stdout.splitlines():
        if "--dport 9090" in rule:
            host.run(["iptables", "-t", "nat", "-D", *rule.split()[1:]], check=True)
    if lab.node("app2").run("ss -Htln sport = :80").stdout.strip() == "":
        web = lab.node("app2").start([sys.executable, "-m", "nethelpers.programs.web", "--name", "app2"])
        web.wait_for("serving")


def _publish_solution(lab):
    lab["myhost"].run("iptables -t nat -A PREROUTING -p tcp --dport 9090 -j DNAT --to-destination 10.0.0.3:80",
                      check=True)


def _dnat_rule(lab):
    listed = lab.node("myhost").run("iptables -t nat -S PREROUTING").stdout.splitlines()
    rules = [rule for rule in map(str.split, listed) if word_after(rule, "--dport") == "9090"]
    if not rules:
        return _("myhost's nat PREROUTING chain has no rule for port 9090: add a DNAT rule "
                 "(-p tcp --dport 9090 -j DNAT --to-destination ...)")
    if not any(word_after(rule, "--to-destination") == "10.0.0.3:80" for rule in rules):
        return _("the port-9090 rule does not send traffic to app2's web server at 10.0.0.3:80")


def _dnat_works(lab):
    reply = lab.node("lan-client").run("curl -s --max-time 3 http://198.51.100.10:9090/", timeout=10)
    if "hello from app2" not in reply.stdout:
        return _("lan-client still gets no answer from app2 through 198.51.100.10:9090 "
                 "(curl exit status {status}); is the web server in app2 running?").format(status=reply.rc)


PUBLISH_APP2 = Exercise(N_("publish app2's web server on port 9090"), [
    (N_("a DNAT rule on myhost sends port 9090 to 10.0.0.3:80"), _dnat_rule),
    (N_("lan-client gets app2's page from 198.51.100.10:9090"), _dnat_works),
], setup=_publish_setup, solution=_publish_solution)


def _c5_setup(lab):
    """A fresh c5 on the default bridge only."""
    lab.docker("rm -f c5")
    lab.docker("run -dit --name c5 busybox")


def _c5_solution(lab):
    lab.docker("network connect bridge1 c5")


def _c5_connected(lab):
    host = docker_host(lab)
    if "c5" not in host.containers:
        return _("there is no container c5: run the exercise's first cell (C5_BY_NAME.start(lab)) to make it")
    if "bridge1" not in host.containers["c5"].endpoints:
        return _("c5 is not on c3's network, bridge1: names resolve only between containers that share a "
                 "user-defined network (docker network connect NETWORK CONTAINER)")


def _c5_resolves(lab):
    # dig +short prints its failures (";; communications error ...") on stdout too: keep the addresses only
    answer = [word for word in lab.node("c5").run("dig +short +time=1 +tries=1 c3", timeout=5).stdout.split()
              if is_ipv4(word)]
    if not answer:
        return _("c5 cannot resolve c3 yet: is 127.0.0.11 in c5's /etc/resolv.conf?")
    c3 = docker_host(lab).containers.get("c3")
    wanted = str(c3.endpoints["bridge1"].ip) if c3 is not None and "bridge1" in c3.endpoints else None
    if wanted not in answer:
        if wanted is None:
            return _("c5 resolves c3 to {answer}, not to c3's address on bridge1 (none): "
                     "is 127.0.0.11 in c5's /etc/resolv.conf?").format(answer=", ".join(answer))
        return _("c5 resolves c3 to {answer}, not to c3's address on bridge1 ({wanted}): "
                 "is 127.0.0.11 in c5's /etc/resolv.conf?").format(answer=", ".join(answer), wanted=wanted)


def _c5_reaches(lab):
    if not pings(lab, "c5", "c3"):
        return _("c5 resolves c3 but cannot ping it")


C5_BY_NAME = Exercise(N_("c5 reaches c3 by name"), [
    (N_("c5 is connected to bridge1"), _c5_connected),
    (N_("c5 resolves the name c3"), _c5_resolves),
    (N_("c5 pings c3 by name"), _c5_reaches),
], setup=_c5_setup, solution=_c5_solution)
