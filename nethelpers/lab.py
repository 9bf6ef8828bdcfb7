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

import contextlib
import os
import threading
import weakref

from . import backends, validate
from .errors import Interrupted, InvalidValue, LabClosed, LabError, NotFound
from .labstate import LabState
from .node import Node
from .sandbox import channel
from .results import CommandResult

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


class Lab:
    """An isolated network lab: a sandbox process whose nodes are network namespaces.

    Args:
        backend: "namespaces" (this machine's kernel) or "vm" (a Linux VM run with QEMU);
            default: ``NETHELPERS_BACKEND``, else namespaces where they work and the VM where
            they do not (see :mod:`nethelpers.backends`).
        start_timeout: seconds to wait for the sandbox to come up (a VM's boot not included).

    Raises:
        LabUnavailable: neither backend can run here; the message says what to do instead.
    """

    def __init__(self, *, backend: str | None = None, start_timeout: float = 30) -> None:
        self._lock = threading.RLock()   # one request at a time, whichever thread sends it
        self._local = threading.local()   # each thread's open batch
        self._request_id = 0
        self._closed_why = "this lab is closed; create a new one with Lab()"
        self.closed = True
        self.state = LabState()   # what the modules around the lab core remember (labstate.py)
        self._sandbox, self.info = backends.start(backend, start_timeout)
        self._conn = self._sandbox.conn
        self.closed = False
        _open_labs.add(self)
        _opened[:] = [ref for ref in _opened if ref() is not None] + [weakref.ref(self)]
        _load_magics()

    # --- plumbing -------------------------------------------------------------
    def _tail(self) -> str:
        return self._sandbox.tail()

    def _call(self, op: str, *args, **kwargs):
        with self._lock:
            if self.closed:
                raise LabClosed(self._closed_why)
            self._request_id += 1
            try:
                self._conn.send([self._request_id, op, list(args), kwargs])
                try:
                    status, value = self._reply(op)
                except KeyboardInterrupt:
                    # Ctrl-C (Jupyter's "interrupt kernel"): stop the command running in the
                    # sandbox, as a terminal would, and take its answer so requests stay in step
                    self._sandbox.interrupt()
                    status, value = self._reply(op)
                    raise Interrupted(value if status == "ok" else None) from None
            except (EOFError, OSError):
                self.closed = True
                raise LabClosed(f"the lab's sandbox ended unexpectedly: {self._tail()}") from None
        if status == "err":
            raise value
        return value

    def _reply(self, op: str) -> tuple[str, object]:
        """The answer to the latest request (answers to interrupted ones are dropped), checked:
        only plain data of the expected shape is taken from the sandbox (see sandbox/channel.py)."""
        while True:
            request_id, status, value = channel.reply(self._conn.recv(), op)
            if request_id == self._request_id:
                return status, value

    @property
    def _batch(self) -> list | None:
        """The operations of this thread's open :meth:`batch` (None outside one)."""
        return getattr(self._local, "batch", None)

    @_batch.setter
    def _batch(self, ops: list | None) -> None:
        self._local.batch = ops

    def _op(self, op: str, **kwargs) -> None:
        """Queue one operation in the open batch, or run it alone."""
        if self._batch is not None:
            self._batch.append((op, kwargs))
        else:
            self._call("apply", [(op, kwargs)])

    @contextlib.contextmanager
    def batch(self):
        """Collect the operations of a ``with`` block and run them in one request.

        All or nothing: if one fails, those before it are undone. Nothing is sent
        if the block itself raises. A batch belongs to the thread that opened it: what
        other threads do meanwhile is not part of it.
        """
        if self._batch is not None:
            yield self
            return
        self._batch = []
        try:
            yield self
            ops = self._batch
        finally:
            self._batch = None
        if ops:
            self._call("apply", ops)

    def flush_batch(self) -> None:
        """Send the operations queued so far in this thread's open :meth:`batch` (which stays open),
        for when something outside the lab's requests must see them: a plugin process acting on the
        kernel itself. Outside a batch: nothing to do."""
        ops = self._batch
        if ops:
            self._batch = []
            self._call("apply", ops)

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
            raise NotFound(f"there is no node {name!r} in this lab (nodes: {', '.join(names) or 'none yet'}); "
                           f"create it first with lab.add_node({name!r})")
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
            end, peer: "node:ifname" for each end.
            master: a bridge in ``end``'s node to attach ``end`` to.
            mac, peer_mac: MAC addresses (default: derived from the names, stable).
        """
        node, name = _endpoint(end)
        peer_node, peer_name = _endpoint(peer)
        self._op("add_veth", node=node, name=name, peer_node=peer_node, peer_name=peer_name,
                 master=validate.ifname(master) if master else None,
                 mac=validate.mac(mac) if mac else None,
                 peer_mac=validate.mac(peer_mac) if peer_mac else None,
                 mtu=validate.mtu(mtu), up=up)

    # --- Docker syntax ----------------------------------------------------------------
    def docker(self, command: str | list[str], *, host: str | None = None):
        """Run a docker command line on a Docker host of the lab (created on first use).

            lab.docker("network create --subnet 192.0.2.0/24 bridge1")
            lab.docker("run -d --name c1 --network bridge1 -p 8080:80 nginx")

        Returns what docker prints (a str; ``.exit_code`` for ``run``/``exec``);
        raises DockerError with the CLI's message when docker would fail.
        """
        from .docker import docker

        return docker(self, command, host)

    def docker_host(self, name: str | None = None, *, userland_proxy: bool | None = None,
                    cluster_store: str | None = None):
        """The Docker host ``name`` (default "docker-host"), created on first use.

        ``userland_proxy=False`` starts it as ``dockerd --userland-proxy=false``;
        ``cluster_store="etcd://IP:2379"`` as Docker 1.11's ``dockerd --cluster-store``.
        """
        from .docker import get_host

        return get_host(self, name, userland_proxy=userland_proxy, cluster_store=cluster_store)

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
        from .plot import draw

        snapshot = self.snapshot()
        if nodes is not None:
            keep, parent_of = set(nodes), {name: s.get("parent") for name, s in snapshot.items()}
            for name in nodes:
                if name not in snapshot:
                    raise NotFound(f"there is no node {name!r} to draw (nodes: {', '.join(snapshot)})")
            for name in snapshot:
                ancestor = parent_of[name]
                while ancestor is not None and name not in keep:
                    if ancestor in keep:
                        keep.add(name)
                    ancestor = parent_of.get(ancestor)
            # bridge ports cabled to nodes left out are left out; other such ends (an uplink
            # like eth0, the parent of macvlans) stay, drawn without their cable
            snapshot = {name: dict(s, links=[dict(link) for link in s["links"]
                                             if link.get("peer_node") in (None, *keep) or not link.get("master")])
                        for name, s in snapshot.items() if name in keep}
            for s in snapshot.values():
                for link in s["links"]:
                    if link.get("peer_node") not in (None, *keep):
                        link["peer_node"] = link["peer"] = None
        return draw(snapshot, **options)

    # --- lifetime -------------------------------------------------------------------
    def close(self) -> None:
        """End the sandbox: every node, link, rule and process of the lab goes."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._conn.send([self._request_id + 1, "shutdown", [], {}])
                self._conn.recv()
            except (EOFError, OSError, LabError):
                pass
            self._conn.close()
            self._sandbox.wait(10)

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


def _endpoint(text: str) -> tuple[str, str]:
    if not isinstance(text, str) or text.count(":") != 1:
        raise validate.InvalidName(f"endpoint {text!r} must be written 'node:interface', e.g. 'c1:eth0'")
    node, name = text.split(":")
    return validate.node_name(node), validate.ifname(name)



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
