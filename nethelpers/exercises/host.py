"""Exercises of notebook 03 (host): host-mode containers, their ports, and the way around a clash."""

from __future__ import annotations

import time

from ..i18n import N_, _
from . import Exercise, docker_host



def _container(lab, name: str):
    """The container ``name`` of the lab's Docker host, or None (exited ones have given their network back)."""
    host = docker_host(lab)
    host._reap()
    return host.containers.get(name)


def _listeners(lab, port: int, *, wait: float = 3.0) -> list[str]:
    """The local addresses listening on TCP ``port`` in the Docker host's namespace, e.g. ["0.0.0.0:8081"].

    A server just started with ``docker run -d`` needs a moment to bind: wait up to ``wait`` seconds."""
    node = lab.node(docker_host(lab).name)
    deadline = time.monotonic() + wait
    while True:
        lines = node.run(f"ss -Hltn 'sport = :{port}'").stdout.splitlines()
        if lines or time.monotonic() > deadline:
            return [line.split()[3] for line in lines]
        time.sleep(0.1)


def _http(lab, node: str, url: str) -> tuple[str, str]:
    """(status code, body) of a GET from ``node``; the code is "000" when nothing answered."""
    result = lab.node(node).run(["curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", url], timeout=10)
    body, _sep, code = result.stdout.rpartition("\n")
    return code, body


def _running_in_host_mode(name: str, command_hint: str):
    def check(lab):
        ctr = _container(lab, name)
        if ctr is None:
            return _("there is no container {name}: run one with --network host whose command "
                     "{command_hint}").format(name=name, command_hint=_(command_hint))
        if not ctr.running:
            return _("{name} has exited (status {status}); `docker logs {name}` says why. Its name stays "
                     "taken until you remove it: `docker rm {name}`, then run it again with --network host and "
                     "a command that {command_hint} (`-p` is discarded in host mode: the server itself must "
                     "listen there)").format(name=name, status=ctr.exit_code, command_hint=_(command_hint))
        if ctr.network_mode != "host":
            return _("{name} runs on the network {network}, not in host mode: remove it "
                     "(`docker rm -f {name}`) and run it again with --network host").format(
                name=name, network=repr(ctr.network_mode))
    return check


def _remove(lab, *names: str) -> None:
    """docker rm -f the containers ``names`` (those that do not exist are no error)."""
    lab.docker(["rm", "-f", *names])


# --- 1 · a second host-mode web server, on port 8081 ------------------------------------
def _h2_setup(lab):
    """h1 serving port 80 in host mode, and an h2 that exited because it wanted port 80 too."""
    h1 = _container(lab, "h1")
    if h1 is None or not h1.running or h1.network_mode != "host":
        _remove(lab, "h1")
        lab.docker("run -d --name h1 --network host nginx")
    _remove(lab, "h2")
    lab.docker("run -d --name h2 --network host nginx")  # exits at once: port 80 is h1's


def _h2_solution(lab):
    lab.docker("rm h2")  # the exited h2 still holds its name
    lab.docker("run -d --name h2 --network host nicolaka/netshoot python3 -m http.server 8081")

def _h1_still_serves(lab):
    ctr = _container(lab, "h1")
    if ctr is None or not ctr.running or ctr.network_mode != "host":
        return _("h1 (nginx in host mode, port 80) is gone or has stopped: run it again with "
                 "`docker run -d --name h1 --network host nginx` (remove the old one first if it is listed by "
                 "`docker ps -a`)")
    code, body = _http(lab, "lan-client", f"http://{docker_host(lab).address}/")
    if "hello from h1" not in body:
        return _("lan-client no longer gets h1's page on port 80 (HTTP status {code}): has something else "
                 "taken port 80 of the Docker host?").format(code=code)


def _8081_listens(lab):
    if not _listeners(lab, 8081):
        return _("h2 runs, but nothing listens on port 8081 of the Docker host. In host mode `-p` is ignored: "
                 "the server itself must listen on 8081, e.g. give h2 the command `python3 -m http.server 8081` "
                 "(remove h2 and run it again with that command)")


def _8081_answers(lab):
    address = docker_host(lab).address
    code, _body = _http(lab, "lan-client", f"http://{address}:8081/")
    if code != "200":
        return _("something listens on port 8081, but lan-client gets no page from http://{address}:8081/ "
                 "(HTTP status {code}): is the server bound to 127.0.0.1 only? It should listen on every "
                 "address (the default of python3 -m http.server)").format(address=address, code=code)


H2_ON_8081 = Exercise(N_("two host-mode web servers side by side"), [
    (N_("h1 still serves port 80 of the Docker host"), _h1_still_serves),
    (N_("h2 runs in host mode"), _running_in_host_mode("h2", N_("serves HTTP on port 8081"))),
    (N_("the Docker host listens on port 8081"), _8081_listens),
    (N_("lan-client gets a page from the Docker host's port 8081"), _8081_answers),
], setup=_h2_setup, solution=_h2_solution)


# --- 2 · a second nginx, in bridge mode, published on port 8080 ---------------------------
def _web_setup(lab):
    """No container web."""
    _remove(lab, "web")


def _web_solution(lab):
    lab.docker("run -d --name web -p 8080:80 nginx")

def _web_runs(lab):
    ctr = _container(lab, "web")
    if ctr is None:
        return _("there is no container web: run an nginx container named web")
    if not ctr.running and ctr.network_mode == "host":
        return _("web has exited (status {status}); `docker logs web` says why — in host mode nginx "
                 "needs the host's port 80, which h1 holds. Remove it (`docker rm web`) and run it on the "
                 "default bridge instead, with a published port").format(status=ctr.exit_code)
    if not ctr.running:
        return _("web has exited (status {status}); `docker logs web` says why. Remove it "
                 "(`docker rm web`) and run an nginx container named web again").format(status=ctr.exit_code)


def _web_on_bridge(lab):
    ctr = _container(lab, "web")
    if ctr.network_mode == "host":
        return _("web runs in host mode: it shares the host's ports with h1, and `-p` is ignored. Remove it "
                 "(`docker rm -f web`) and run it without --network host, so that it has its own port 80")
    if not ctr.wired:
        return _("web has no network interface (network mode {mode}): run it on the default bridge").format(
            mode=repr(ctr.network_mode))


def _web_publishes_8080(lab):
    ctr = _container(lab, "web")
    ports = [(pm.host_port, pm.container_port) for pm in ctr.port_mappings() if pm.proto == "tcp"]
    if (8080, 80) not in ports:
        shown = ", ".join(f"{h}->{c}" for h, c in ports) or _("none")
        return _("web does not publish the host's port 8080 to its port 80 (its published ports: {shown}). "
                 "Ports are fixed when a container is created: remove it (`docker rm -f web`) and run it "
                 "again with -p 8080:80").format(shown=shown)


def _web_answers(lab):
    address = docker_host(lab).address
    code, body = _http(lab, "lan-client", f"http://{address}:8080/")
    if "hello from web" not in body:
        return _("lan-client does not get web's page from http://{address}:8080/ (HTTP status {code}, "
                 "answer {answer})").format(address=address, code=code, answer=repr(body.strip()[:60]))


PUBLISH_8080 = Exercise(N_("a second nginx next to h1, through a published port"), [
    (N_("a container web is running"), _web_runs),
    (N_("web has its own network namespace on a bridge"), _web_on_bridge),
    (N_("web publishes the host's port 8080 to its port 80"), _web_publishes_8080),
    (N_("lan-client gets web's page from the Docker host's port 8080"), _web_answers),
], setup=_web_setup, solution=_web_solution)


# --- 3 · a host-mode service that only the host can reach ----------------------------------
def _admin_setup(lab):
    """No container admin."""
    _remove(lab, "admin")


def _admin_solution(lab):
    lab.docker("run -d --name admin --network host nicolaka/netshoot python3 -m http.server 9001 --bind 127.0.0.1")

def _9001_on_loopback(lab):
    listeners = _listeners(lab, 9001)
    if not listeners:
        return _("admin runs, but nothing listens on port 9001 of the Docker host: its command should be a "
                 "server on port 9001, e.g. `python3 -m http.server 9001 --bind 127.0.0.1`")
    if any(not address.startswith("127.") for address in listeners):
        return _("port 9001 listens on {listeners}, which includes the LAN address: bind the server "
                 "to 127.0.0.1 only (python3 -m http.server 9001 --bind 127.0.0.1). In host mode "
                 "`-p 127.0.0.1:9001:9001` would be ignored: the bind address is the only switch").format(
            listeners=", ".join(listeners))


def _9001_from_host(lab):
    code, _body = _http(lab, docker_host(lab).name, "http://127.0.0.1:9001/")
    if code != "200":
        return _("the Docker host gets no page from http://127.0.0.1:9001/ (HTTP status {code})").format(code=code)


def _9001_not_from_lan(lab):
    address = docker_host(lab).address
    code, _body = _http(lab, "lan-client", f"http://{address}:9001/")
    if code != "000":
        # port 9001 listens on loopback only (the step before): something else passes the LAN's connections on
        return _("lan-client still gets an answer from http://{address}:9001/ (HTTP status {code}) although the "
                 "server listens on 127.0.0.1 only: something on the Docker host passes the LAN's connections "
                 "on to it — a NAT rule for port 9001 (iptables -t nat -S), with "
                 "net.ipv4.conf.*.route_localnet = 1?").format(address=address, code=code)


LOCAL_ONLY = Exercise(N_("a host-mode service for the host's eyes only"), [
    (N_("admin runs in host mode"), _running_in_host_mode("admin", N_("serves HTTP on 127.0.0.1, port 9001"))),
    (N_("port 9001 listens on 127.0.0.1 only"), _9001_on_loopback),
    (N_("the Docker host gets a page from 127.0.0.1:9001"), _9001_from_host),
    (N_("lan-client gets nothing from the Docker host's port 9001"), _9001_not_from_lan),
], setup=_admin_setup, solution=_admin_solution)
