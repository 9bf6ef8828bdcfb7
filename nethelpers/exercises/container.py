"""Exercises of notebook 04 (container mode: a pod).

The checkers read the lab's Docker host bookkeeping (which container joined whose
namespace, what is published) and then test the network for real: a page fetched
from the LAN, from the internet server, and over the pod's loopback.
"""

from __future__ import annotations

from ..docker import images
from ..i18n import N_, _
from . import Exercise, docker_host, running_container

WEB_PAGE = "hello from web"



def _owner(lab, ctr):
    """The container whose namespace ``ctr`` joined, following joiners of joiners to the one that has
    its own (None if ``ctr`` has its own, or if that one is gone)."""
    by_id = {c.id: c for c in docker_host(lab).containers.values()}
    owner = by_id.get(ctr.joined) if ctr.joined else None
    while owner is not None and owner.joined:
        owner = by_id.get(owner.joined)
    return owner


def _pod_owner(lab):
    """The running owner of web's namespace, or None."""
    web = running_container(lab, "web")
    owner = _owner(lab, web) if web is not None else None
    return owner if owner is not None and owner.running else None


def _short(cid: str) -> str:
    return cid[:12]


def _missing(lab, name: str, command: str) -> str:
    """The hint for a container that should run: start it, or first remove the exited one."""
    if name in docker_host(lab).containers:
        return _("{name} exists but is not running: remove it (docker rm {name}) and run it again, "
                 "{command}").format(name=name, command=command)
    return _("there is no running container {name}: {command}").format(name=name, command=command)


def _clear_pod(lab):
    """Remove every container of the pod: web, pause, sidecar, debug, whatever shares a namespace
    with them, and whatever publishes port 8080 (joiners first: the namespace goes with the last)."""
    host = docker_host(lab)
    pod = {ctr.name for ctr in host.containers.values()
           if ctr.name in ("web", "pause", "sidecar", "debug") or any(p.host_port == 8080 for p in ctr.publish)}
    nodes = {host.containers[name].node for name in pod} - {host.name}  # (not the host-mode containers)
    doomed = [ctr for ctr in host.containers.values() if ctr.name in pod or ctr.node in nodes]
    for ctr in sorted(doomed, key=lambda c: c.joined is None):
        lab.docker(f"rm -f {ctr.name}")


def _run_pod(lab):
    lab.docker("run -dit --name pause -p 8080:80 busybox")
    lab.docker("run -d --name web --network container:pause nginx")
    lab.docker("run -dit --name sidecar --network container:pause nicolaka/netshoot")


# --- 1 · bring the pod back -----------------------------------------------------------------
def _pod_back_setup(lab):
    """Part 4's end: web and sidecar running in the namespace of a removed pause, with only lo."""
    _clear_pod(lab)
    _run_pod(lab)
    lab.docker("rm -f pause")


def _pod_back_solution(lab):
    lab.docker("rm -f web sidecar")  # they cannot move to a new namespace: recreate them in one
    lab.docker("run -dit --name pause -p 8080:80 busybox")
    lab.docker("run -d --name web --network container:pause nginx")
    lab.docker("run -dit --name sidecar --network container:pause nicolaka/netshoot")


def _web_runs(lab):
    if running_container(lab, "web") is None:
        return _missing(lab, "web", _("inside the pod: docker run -d --name web --network container:OWNER nginx "
                                      "(OWNER: the pod's new pause container)"))


def _web_in_live_pod(lab):
    web = running_container(lab, "web")
    if not web.joined:
        return _("web has a network namespace of its own (NetworkMode {mode}): it should share "
                 "the pod's. Remove it (docker rm -f web) and run it again with --network container:OWNER"
                 ).format(mode=web.network_mode)
    owner = _owner(lab, web)
    if owner is None:
        return _("web still lives in the namespace of the removed owner (its NetworkMode is "
                 "container:{owner_id}…), where only lo is left. A running container cannot move "
                 "to another namespace: remove web and sidecar (docker rm -f web sidecar), start a new owner, "
                 "then run web and sidecar again with --network container:<the new owner>"
                 ).format(owner_id=_short(web.joined))
    if not owner.running:
        return _("web's owner {owner} is not running, so the namespace has only lo: remove the pod's "
                 "containers (docker rm -f {owner} web sidecar) and build it again").format(owner=owner.name)


def _pod_gone(lab):
    """The hint of the first steps again, when the owner or web exited after they looked (a busybox
    run without -it exits at once: it may still run when one step looks, and be gone at the next)."""
    return _web_runs(lab) or _web_in_live_pod(lab)


def _owner_has_network(lab):
    owner = _pod_owner(lab)
    if owner is None:
        return _pod_gone(lab)
    if not owner.wired:
        return _("the owner {owner} has no network interface (NetworkMode {mode}): "
                 "the pod's network is the owner's, so run the owner on a bridge network (the default "
                 "bridge will do)").format(owner=owner.name, mode=owner.network_mode)


def _owner_publishes(lab):
    owner = _pod_owner(lab)
    if owner is None:
        return _pod_gone(lab)
    ports = owner.port_mappings()
    if not any(pm.host_port == 8080 and pm.container_port == 80 and pm.proto == "tcp" for pm in ports):
        shown = ", ".join(f"{pm.host_port}->{pm.container_port}/{pm.proto}" for pm in ports) or _("no port")
        return _("the owner {owner} publishes {shown}; it should publish host port 8080 to port 80. "
                 "Ports of a pod are published on its owner (docker refuses -p on web), and only when the "
                 "owner is created: remove the pod and run the owner with -p 8080:80"
                 ).format(owner=owner.name, shown=shown)


def _lan_gets_web(lab):
    reply = lab.node("lan-client").run("curl -s --max-time 3 http://198.51.100.10:8080/", timeout=10)
    if WEB_PAGE not in reply.stdout:
        got = (reply.stdout.splitlines()[0] if reply.stdout
               else _("no answer (curl exit status {rc})").format(rc=reply.rc))
        return _("lan-client asked http://198.51.100.10:8080/ and got {got}, not web's page: is web's "
                 "server running in the owner's namespace (docker logs web)?").format(got=repr(got))


def _sidecar_in_pod(lab):
    owner = _pod_owner(lab)
    if owner is None:
        return _pod_gone(lab)
    sidecar = running_container(lab, "sidecar")
    if sidecar is None:
        return _missing(lab, "sidecar", f"docker run -dit --name sidecar --network container:{owner.name} "
                                                f"nicolaka/netshoot")
    if sidecar.node != owner.node:  # (a joiner of a joiner shares the same namespace)
        where = (_("has its own namespace (NetworkMode {mode})").format(mode=sidecar.network_mode)
                 if not sidecar.joined
                 else _("joined container {joined}, not {owner}'s namespace").format(
                     joined=_short(sidecar.joined), owner=owner.name))
        return _("sidecar {where}: remove it (docker rm -f sidecar) and run it again with "
                 "--network container:{owner}").format(where=where, owner=owner.name)


def _sidecar_goes_out(lab):
    sidecar = running_container(lab, "sidecar")
    if sidecar is None:   # (exited since the step before looked)
        return _sidecar_in_pod(lab)
    node = sidecar.node
    reply = lab.node(node).run("curl -s --max-time 3 http://203.0.113.10/", timeout=10)
    if "hello from internet" not in reply.stdout:
        return _("sidecar cannot reach the internet server 203.0.113.10 (curl exit status {rc}); "
                 "docker exec sidecar ip -br addr should show an eth0 with an address").format(rc=reply.rc)


POD_BACK = Exercise(N_("bring the pod back"), [
    (N_("web runs"), _web_runs),
    (N_("web shares the namespace of a running owner"), _web_in_live_pod),
    (N_("the owner has a network interface"), _owner_has_network),
    (N_("the owner publishes port 8080 to port 80"), _owner_publishes),
    (N_("lan-client gets web's page from 198.51.100.10:8080"), _lan_gets_web),
    (N_("sidecar runs in the same pod"), _sidecar_in_pod),
    (N_("sidecar reaches the internet server 203.0.113.10"), _sidecar_goes_out),
], setup=_pod_back_setup, solution=_pod_back_solution)


# --- 2 · a debug container in the pod -----------------------------------------------------------
def _debug_setup(lab):
    """The pod of exercise 1 alive (pause, with web and sidecar in its namespace), and no debug."""
    owner = _pod_owner(lab)
    if owner is None or owner.name != "pause":
        _clear_pod(lab)
        _run_pod(lab)
    elif "debug" in docker_host(lab).containers:
        lab.docker("rm -f debug")


def _debug_solution(lab):
    lab.docker("run -dit --name debug --network container:pause nicolaka/netshoot")


def _pod_alive(lab):
    if _pod_owner(lab) is None:
        return _("web is not running in a live pod: run the exercise's first cell again "
                 "(exercises.DEBUG_SIDECAR.start(lab)): it rebuilds the pod")


def _debug_runs(lab):
    if _pod_owner(lab) is None:   # (the owner exited since the step before looked)
        return _pod_alive(lab)
    if running_container(lab, "debug") is None:
        return _missing(lab, "debug", f"docker run -dit --name debug --network container:{_pod_owner(lab).name} "
                                      f"nicolaka/netshoot")


def _debug_in_pod(lab):
    owner, debug = _pod_owner(lab), running_container(lab, "debug")
    if owner is None or debug is None:   # (exited since the steps before looked: sh without -it does)
        return _debug_runs(lab)
    if not debug.joined:
        return _("debug has a network namespace of its own (NetworkMode {mode}), with its own "
                 "127.0.0.1 where nothing listens: remove it (docker rm -f debug) and run it again with "
                 "--network container:{owner}").format(mode=debug.network_mode, owner=owner.name)
    if debug.node != owner.node:
        return _("debug joined container {joined}, not the pod's owner {owner}: remove it "
                 "and run it again with --network container:{owner}").format(joined=_short(debug.joined),
                                                                             owner=owner.name)


def _debug_reaches_web(lab):
    debug = running_container(lab, "debug")
    if debug is None:
        return _debug_runs(lab)
    if not images.has(debug.image, "curl"):
        return _("debug's image, {image}, has no curl (`docker exec debug curl ...` fails: executable file "
                 "not found): remove it and run a tools image such as nicolaka/netshoot"
                 ).format(image=debug.image)
    node = debug.node
    reply = lab.node(node).run("curl -s --max-time 3 http://127.0.0.1:80/", timeout=10)
    if WEB_PAGE not in reply.stdout:
        return _("curl http://127.0.0.1:80/ from debug got no page from web (curl exit status {rc}): "
                 "is web running (docker ps)?").format(rc=reply.rc)


DEBUG_SIDECAR = Exercise(N_("a debug container in the pod"), [
    (N_("the pod is alive (web in a running owner's namespace)"), _pod_alive),
    (N_("a container debug runs"), _debug_runs),
    (N_("debug shares the pod's namespace"), _debug_in_pod),
    (N_("debug reaches web at 127.0.0.1:80"), _debug_reaches_web),
], setup=_debug_setup, solution=_debug_solution)
