"""The lab as the notebook sees it: a handle on a sandbox process.

``Lab()`` starts the sandbox (see :mod:`nethelpers.sandbox`) and talks to it over
a socket; every method here checks its input, then sends one request. Nothing
in this module touches the kernel itself, so it is safe in Jupyter's
multithreaded kernel, with or without root.

    >>> lab = Lab()
    >>> host, c1 = lab.add_node("host"), lab.add_node("c1")
    >>> lab.add_veth("c1:eth0", "host:veth1")
    >>> c1.add_address("eth0", "10.0.0.2/24")
    >>> print(c1.run("ip -br addr show eth0"))

The lab core is this module, :mod:`nethelpers.node` (``Node``) and :mod:`nethelpers.results`
(``CommandResult``, ``BackgroundProcess``, which asks for a process's status and stops it):
only they send requests with the private ``Lab._call``/``Lab._op``. Every other module uses
the public methods — e.g. ``Node.start_resolver``, ``Lab.load_module``, ``Lab.ask_daemon``,
``Lab.http_over_unix`` — and keeps what it remembers about a lab in ``lab.state``
(:class:`~nethelpers.labstate.LabState`), not in attributes of its own on the lab.
"""

from __future__ import annotations

import os
import weakref

from . import backends, features, i18n, validate
from .connection import Connection
from .errors import Interrupted, InvalidValue, LabError, LabUnavailable, MissingFeature, NotFound
from .labstate import LabState
from .node import Node
from .sandbox import channel
from .results import BackgroundProcess, CommandResult

_open_labs: "weakref.WeakSet[Lab]" = weakref.WeakSet()
_opened: list = []  # weak references to labs, in the order they were opened


def current_lab() -> "Lab | None":
    """The most recently opened lab that is still open (what ``%lab`` uses): closing a second
    lab hands the magics back to the first."""
    for ref in reversed(_opened):
        lab = ref()
        if lab is not None and not lab.closed:
            return lab
    return None


class Lab(Connection):
    """An isolated network lab: a sandbox process whose nodes are network namespaces.

    Args:
        backend: "namespaces" (this machine's kernel) or "vm" (a Linux VM run with QEMU);
            default: ``NETHELPERS_BACKEND``, else namespaces where they work and the VM where
            they do not (see :mod:`nethelpers.backends`).
        needs: kernel features the lab must have, e.g. ``["ipvlan"]`` (see
            :mod:`nethelpers.features`): where this machine's kernel lacks one and no backend
            was asked for, the lab runs in the VM, whose kernel has them all. Such a lab always
            says where it runs.
        start_timeout: seconds to wait for the sandbox to come up (a VM's boot not included; in a VM
            times its patience, as every wait there).
        lang: the language the helper's texts (checkers, hints, the tracer…) are shown in from now
            on, ``"en"`` or ``"zh-CN"``; by default ``NETHELPERS_LANG``, else Chinese in the Chinese
            edition's folder (:mod:`nethelpers.i18n`).

    Raises:
        LabUnavailable: neither backend can run here; the message says what to do instead.
        MissingFeature: a feature of ``needs`` that no backend here has.
    """

    def __init__(self, *, backend: str | None = None, needs=(), start_timeout: float = 30,
                 lang: str | None = None) -> None:
        if lang is not None:
            i18n.use(lang)  # checked before anything is built: a wrong one leaves nothing behind
        self._closed_why = "this lab is closed; create a new one with Lab()"
        self.closed = True
        self.state = LabState()   # what the modules around the lab core remember (labstate.py)
        needs = features.checked(needs)
        self._connect(*backends.start(backend, start_timeout, quiet=bool(needs)))
        if needs:
            try:
                self._meet(needs, backend, start_timeout)
            except BaseException:  # (Ctrl-C or a refusal while trying): no sandbox is left behind
                self._shutdown()
                raise
        _open_labs.add(self)
        _opened[:] = [ref for ref in _opened if ref() is not None] + [weakref.ref(self)]
        _load_magics()

    def _meet(self, needs: tuple[str, ...], backend: str | None, timeout: float) -> None:
        """Have the kernel features ``needs``: in the VM where this machine's kernel lacks them."""
        lacking = features.missing(self, needs)
        if lacking and self.backend == "namespaces" and backends.requested(backend) is None:
            self._shutdown()
            why = i18n._("as this machine's kernel has no {features}").format(features=features.listed(lacking))
            try:
                self._connect(*backends.start("vm", timeout, quiet=True, why=why))
            except LabUnavailable as no_vm:
                raise MissingFeature(f"this lab needs the {features.listed(lacking)}, which this machine's "
                                     f"kernel does not have, and the VM backend (whose kernel has it) cannot "
                                     f"run here: {no_vm}") from None
            lacking = features.missing(self, needs)
        if lacking:
            where = "the VM's kernel" if self.backend == "vm" else "this machine's kernel"
            self._shutdown()
            raise MissingFeature(f"this lab needs the {features.listed(lacking)}, and {where} has none"
                                 + ("" if self.backend == "vm" else "; leave backend unset (or use backend='vm') "
                                    "to run the lab in the VM, whose kernel has it"))
        backends.announce(self.info)

    # --- nodes ------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Where the lab runs: "namespaces" (this machine's kernel) or "vm"."""
        return self.info["backend"]

    @property
    def patience(self) -> float:
        """How many times longer than usual the lab waits for things (1; more in a VM whose CPU
        is emulated, where every program runs several times slower)."""
        return self.info.get("patience", 1)

    @property
    def rootless(self) -> bool:
        """True when the sandbox runs in a user namespace (you are not root)."""
        return self.info["rootless"]

    def add_node(self, name: str, *, kind: str = "node", parent: str | None = None,
                 ipv6: bool = False) -> Node:
        """Create a node: a named network namespace with loopback up.

        Args:
            kind: what it plays, for pictures: "host", "container", "router", "switch",
                "server", "client" or "node".
            parent: the node a container belongs to (drawn inside it).
            ipv6: keep IPv6 on (off by default: quieter captures, deterministic output,
                and what Docker does for containers on IPv4-only networks).
        """
        validate.node_name(name)
        if parent is not None:
            validate.node_name(parent)
        if kind not in Node.KINDS:
            raise InvalidValue(f"kind {kind!r} is not one of {', '.join(Node.KINDS)}")
        self._op("add_node", name=name, kind=kind, parent=parent, ipv6=ipv6)
        return Node(self, name)

    def add_nodes(self, names: list[str], **options) -> list[Node]:
        """Create several nodes in one request (see :meth:`add_node`)."""
        with self.batch():
            return [self.add_node(name, **options) for name in names]

    def node(self, name: str) -> Node:
        """The node called ``name`` (raises NotFound if there is none)."""
        names = [n["name"] for n in self._call("nodes")]
        if name not in names:
            raise NotFound(i18n._("there is no node {name} in this lab (nodes: {nodes}); "
                                  "create it first with lab.add_node({name})").format(
                name=repr(name), nodes=", ".join(names) or i18n._("none yet")))
        return Node(self, name)

    __getitem__ = node

    def nodes(self) -> list[Node]:
        return [Node(self, n["name"]) for n in self._call("nodes")]

    def remove_node(self, name: str) -> None:
        """Remove a node, its processes, and every link the lab made with an end in it.

        (A link made by hand with ``ip`` between this node and another goes when the
        kernel frees the namespace, a moment later.)
        """
        self.remove_nodes([name])

    def remove_nodes(self, names: list[str]) -> None:
        """Remove several nodes at once (their links go in one kernel batch).

        In a :meth:`batch`, consecutive removals of nodes and links are done together:
        one kernel deletion per node for all of them. Removals are not undone.
        """
        self._op("remove_nodes", names=[validate.node_name(n) for n in names])

    # --- links between nodes ----------------------------------------------------
    def add_veth(self, end: str, peer: str, *, master: str | None = None, mac: str | None = None,
                 peer_mac: str | None = None, mtu: int | None = None, up: bool = True) -> None:
        """Create a veth pair between two nodes: ``lab.add_veth("host:veth1", "c1:eth0")``.

        Args:
            end, peer: each end, "node:ifname" or an :class:`~nethelpers.node.Interface`
                (``lab["c1"].interface("eth0")``).
            master: a bridge in ``end``'s node to attach ``end`` to.
            mac, peer_mac: MAC addresses (default: derived from the names, stable).
        """
        node, name = validate.endpoint(end)
        peer_node, peer_name = validate.endpoint(peer)
        self._op("add_veth", node=node, name=name, peer_node=peer_node, peer_name=peer_name,
                 master=validate.ifname(master) if master else None,
                 mac=validate.mac(mac) if mac else None,
                 peer_mac=validate.mac(peer_mac) if peer_mac else None,
                 mtu=validate.mtu(mtu), up=up)

    # --- Docker syntax ----------------------------------------------------------------
    def docker(self, command: str | list[str], *, host: str | None = None, input: str | None = None):
        """Run a docker command line on a Docker host of the lab (created on first use).

            lab.docker("network create --subnet 192.0.2.0/24 bridge1")
            lab.docker("run -d --name c1 --network bridge1 -p 8080:80 nginx")

        Returns what docker prints (a str; ``.exit_code`` for ``run``/``exec``);
        raises DockerError with the CLI's message when docker would fail. ``input`` is the
        command's standard input: ``lab.docker("compose -f - up -d", input=yaml_text)``.
        """
        from .docker import docker

        return docker(self, command, host, input)

    def docker_host(self, name: str | None = None, *, version: str | None = None,
                    firewall_backend: str | None = None, userland_proxy: bool | None = None,
                    cluster_store: str | None = None, daemon_json: dict | None = None):
        """The Docker host ``name`` (default "docker-host"), created on first use.

        ``version="29"`` or ``"27"``: the Docker Engine it emulates (later ``lab.docker`` and
        ``%docker`` commands run on it); ``firewall_backend="nftables"`` starts Docker 29 as
        ``dockerd --firewall-backend=nftables``; ``userland_proxy=False`` as
        ``dockerd --userland-proxy=false``; ``cluster_store="etcd://IP:2379"`` as Docker 1.11's
        ``dockerd --cluster-store``; ``daemon_json={"bip": "10.99.0.1/24", "default-address-pools":
        [{"base": "10.10.0.0/16", "size": 24}]}`` as /etc/docker/daemon.json (change it later with
        ``.restart_daemon(daemon_json)``, as ``systemctl restart docker`` after editing the file).
        """
        from .docker import get_host

        return get_host(self, name, version=version, firewall_backend=firewall_backend,
                        userland_proxy=userland_proxy, cluster_store=cluster_store, daemon_json=daemon_json)

    def kubernetes(self, nodes=("node1", "node2"), *, pod_network: str = "host-gw", proxy_mode: str = "iptables"):
        """A Kubernetes cluster of ``nodes`` on the lab's LAN, built as kubeadm + flannel would build it
        (``pod_network="host-gw"`` or ``"vxlan"``), with kube-proxy on every node (``proxy_mode=
        "iptables"``, its default, or ``"nftables"``); drive it with :meth:`kubectl` (see :mod:`nethelpers.k8s`)."""
        from .k8s import create

        return create(self, nodes, pod_network=pod_network, proxy_mode=proxy_mode)

    def kubectl(self, command: str | list[str], *, input: str | None = None):
        """Run a kubectl command line on the lab's cluster: ``lab.kubectl("get pods -o wide")``;
        ``input`` is its standard input (``lab.kubectl("apply -f -", input=yaml_text)``)."""
        from .k8s import kubectl

        return kubectl(self, command, input)

    def trace(self, source: str, destination: str, *, tcp: int | None = None, udp: int | None = None,
              nodes: list[str] | None = None):
        """Send one real packet from node ``source`` to ``destination`` (address or node) and
        report the path it took: namespaces, interfaces, bridges, every netfilter rule it met,
        NAT, and where and why it was dropped. ICMP echo by default; ``tcp=PORT`` or ``udp=PORT``
        for one TCP SYN or UDP datagram. ``print()`` the result, or ``.plot()`` it
        (see :mod:`nethelpers.trace`)."""
        from .trace import trace

        return trace(self, source, destination, tcp=tcp, udp=udp, nodes=nodes)

    # --- commands in the sandbox itself -------------------------------------------
    def run_in_sandbox(self, command, *, timeout: float = 30, check: bool = False) -> CommandResult:
        """Run a command in the sandbox's root namespace, outside every node.

        There ``ip netns list`` shows the nodes, as on a machine where they were
        made with ``ip netns add``.
        """
        return self._run(None, command, timeout=timeout, check=check)

    def _run(self, node: str | None, command, *, timeout: float, check: bool,
             input: str | None = None) -> CommandResult:
        command = validate.command(command)  # all checked here: a refused request starts nothing
        timeout, input = validate.timeout(timeout), validate.stdin(input)
        try:
            reply = self._call("run", node, command, timeout, input)
        except Interrupted as stop:
            if isinstance(stop.reply, dict):
                stop.result = CommandResult.from_reply(command, stop.reply)
            raise
        return CommandResult.from_reply(command, reply, check)

    def processes(self) -> list[dict]:
        """Background processes started with :meth:`Node.start`."""
        return self._call("processes")

    def exited(self, processes: list[BackgroundProcess]) -> dict[int, int]:
        """Which of these background processes have ended: ``{id: exit status}``, in one request
        however many there are (a Docker host watches every container's main command so)."""
        if not all(isinstance(p, BackgroundProcess) and p.lab is self for p in processes):
            raise InvalidValue("exited() takes background processes of this lab (what Node.start returned)")
        ended = {p.id: p._final["rc"] for p in processes if p._final is not None}  # stopped: known
        asked = [p.id for p in processes if p._final is None]
        if asked:
            ended.update((pid, rc) for pid, rc in self._call("exited", asked))
        return ended

    # --- the sandbox's services: kernel modules, lab daemons, sockets ---------------------
    def load_module(self, name: str) -> bool:
        """Load kernel module ``name`` as dockerd loads ``br_netfilter``; whether it was loaded.

        Only the VM backend's kernel belongs to the lab: there the launcher, outside the lab,
        loads the modules on its list (``br_netfilter``). On this machine's kernel a lab never
        loads a module, root or not: False (test for what the module provides instead).

        Raises:
            InvalidName: ``name`` is not a module name such as 'br_netfilter'.
        """
        return self._call("load_module", validate.module_name(name))

    def ask_daemon(self, name: str, request: dict, *, timeout: float = 10) -> dict:
        """Send one JSON request to lab daemon ``name`` — a program of the lab listening on the
        unix socket ``/run/nethelpers/sockets/NAME`` in the sandbox, such as a Docker host's
        overlay agent ``agent-HOST`` — and return its JSON answer (one line each way).

        Args:
            timeout: seconds to wait for the answer (times :attr:`patience`).
        Raises:
            InvalidName, InvalidValue: a bad name, a request that is not a JSON object, a bad timeout.
            NotFound: no daemon listens there (not started, or exited).
            CommandTimeout: it did not answer in time.
        """
        name = validate.daemon_name(name)
        if not isinstance(request, dict):
            raise InvalidValue(f"the request to daemon {name!r} {validate.kind(request)}; give a dict, "
                               f"e.g. {{'op': 'wait'}}")
        answer = self._call("ask", name, validate.json_data(request, what=f"the request to daemon {name!r}"),
                            validate.deadline(timeout))
        if not isinstance(answer, dict):
            raise channel.ProtocolError(f"the answer of lab daemon {name!r} {validate.kind(answer)}, "
                                        f"not a JSON object")
        return answer

    def http_over_unix(self, socket_path: str, method: str, path: str, body=None, *,
                       timeout: float = 10) -> dict:
        """One HTTP/1.1 request over a unix socket in the sandbox, as Docker talks to its plugins
        (``/run/docker/plugins/NAME.sock``, or a lab daemon's under ``/run/nethelpers/sockets/``).

            reply = lab.http_over_unix("/run/docker/plugins/labnet.sock", "POST", "/Plugin.Activate")
            reply["status"], reply["json"]      # 200, {'Implements': ['NetworkDriver', ...]}

        Args:
            body: JSON-able data, sent as JSON (None: no body).
            timeout: seconds to wait for the answer (times :attr:`patience`).
        Returns:
            ``{"status": 200, "content_type": "...", "json": <the decoded body, or None>,
            "text": <the body as text>}``.
        Raises:
            InvalidValue: a bad method, path, body or timeout, or a socket outside those directories.
            NotFound: nothing listens on the socket. CommandTimeout: no answer in time.
        """
        method, path = validate.http_request(method, path)
        return self._call("http", validate.socket_path(socket_path), method, path,
                          validate.json_data(body, what=f"the body of {method} {path}"),
                          validate.deadline(timeout))

    # --- looking at it ------------------------------------------------------------
    def snapshot(self, nodes: list[str] | None = None) -> dict:
        """Live kernel state of every node (or those named), as plain data."""
        return self._call("snapshot", nodes)

    def plot(self, nodes: list[str] | None = None, **options):
        """Draw the topology from the live kernel state (see :func:`nethelpers.plot.draw`).

        ``nodes``: draw only these nodes and what they contain (e.g. a host and its
        containers); default: the whole lab.
        """
        from .plot import draw, only

        snapshot = self.snapshot()
        if self.state.docker is not None:  # a Docker network's bridge is drawn with the network's name
            for (node, ifname), network in self.state.docker.bridge_names().items():
                for link in snapshot.get(node, {}).get("links", []):
                    if link["name"] == ifname:
                        link["network"] = network
        if nodes is not None:
            snapshot = only(snapshot, nodes)
        return draw(snapshot, **options)

    # --- lifetime -------------------------------------------------------------------
    def close(self) -> None:
        """End the sandbox: every node, link, rule and process of the lab goes."""
        self._shutdown()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<Lab closed>"
        return f"<Lab {'vm' if self.backend == 'vm' else 'rootless' if self.rootless else 'root'}>"


def _after_fork_in_child() -> None:
    """A forked child (``multiprocessing``, ``os.fork``) inherits the labs' connections: it lets
    go of them, so that the labs still end with their owner, and it cannot use them."""
    for lab in list(_open_labs):
        if not lab.closed:
            lab.closed = True
            lab._closed_why = ("this lab belongs to the process that created it, not to this forked "
                               "child; create a new Lab() here, or use the lab from its own process")
            lab._sandbox.forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _load_magics() -> None:
    """In IPython (a notebook): load the extension :mod:`nethelpers.magics` — ``%lab``,
    ``%%lab``, ``%docker`` and pictures shown as PNG (see :meth:`Lab.plot`) — through IPython's
    extension manager, by name: this module does not import that one. Once per shell."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "extension_manager", None) is not None:
        shell.extension_manager.load_extension("nethelpers.magics")


def close_all() -> None:
    """Close every lab this process opened (used by tests and notebooks' last cell)."""
    for lab in list(_open_labs):
        lab.close()


__all__ = ["Lab", "LabError", "current_lab", "close_all"]
