"""The network-mode explorer of notebook 00: each Docker mode built for real, described, drawn, pinged.

    from nethelpers import explorer
    explorer.show("bridge")   # build it, print its facts, draw it, ping every pair, close the lab
    explorer.widget()         # the same from a drop-down, live (ipywidgets)

Each mode is plain data (:data:`MODES`: the docker commands that make it, its containers and
facts); :func:`build` runs the commands in a fresh lab, :func:`reachability` pings between the
mode's containers, its Docker hosts, the LAN client and the internet server, and
:func:`matrix_text` prints the result as a table. The widget glue (:class:`Explorer`) only calls
these.
"""

from __future__ import annotations

import base64
import difflib
from dataclasses import dataclass

from . import world
from .errors import InvalidValue, LabError
from .i18n import N_, _, layout
from .lab import Lab


@dataclass(frozen=True)
class Mode:
    """One Docker network mode as the explorer builds it."""

    name: str
    summary: str                          # one line
    commands: tuple[str, ...]             # docker command lines in order; "-H host2 ..." on a 2nd host
    containers: tuple[tuple[str, str], ...]  # (container, its Docker host)
    facts: tuple[tuple[str, str], ...]    # (topic, fact)


MACVLAN_NET = ("network create -d macvlan --subnet 198.51.100.0/24 --gateway 198.51.100.1 "
               "--ip-range 198.51.100.128/25 -o parent=eth0 lan")
HOST = "docker-host"

MODES = {mode.name: mode for mode in (
    Mode("bridge", N_("the default: a private subnet behind the host, NAT on the way out, -p on the way in"),
         ("run -dit --name c1 busybox", "run -dit --name c2 busybox"),
         (("c1", HOST), ("c2", HOST)),
         ((N_("gets"), N_("its own network namespace: eth0 (one end of a veth pair) with an address from "
                          "172.17.0.0/16, and a default route via docker0 (172.17.0.1)")),
          (N_("shares"), N_("the bridge docker0 with every container of the default network: c1 and c2 reach "
                            "each other directly, on one Ethernet segment")),
          (N_("way out"), N_("routed by the host (ip_forward=1) and masqueraded: the internet sees the "
                             "host's 198.51.100.10")),
          (N_("way in"), N_("the host reaches 172.17.0.0/16 directly; the LAN has no route to it: only "
                            "published ports (-p: DNAT and docker-proxy) let it in")),
          (N_("kernel objects"), N_("per container a netns and a veth pair; the bridge docker0; iptables "
                                    "rules in filter (DOCKER-FORWARD, DOCKER), raw (a guard per container) "
                                    "and nat (MASQUERADE)")))),
    Mode("none", N_("a namespace with only lo: no cable, no address, no route"),
         ("run -dit --name n1 --network none busybox", "run -dit --name n2 --network none busybox"),
         (("n1", HOST), ("n2", HOST)),
         ((N_("gets"), N_("its own network namespace with only lo (127.0.0.1): no cable, no address, no route")),
          (N_("shares"), N_("nothing, not even with the other none container")),
          (N_("way out"), N_("none: connect() fails at once with ENETUNREACH (no route), so no packet is "
                             "ever sent")),
          (N_("way in"), N_("none: it has no address to reach")),
          (N_("kernel objects"), N_("one netns per container, nothing in it; no veth, no bridge, no iptables "
                                    "rule")))),
    Mode("host", N_("no namespace of its own: the host's interfaces, addresses and ports"),
         ("run -dit --name h1 --network host busybox", "run -dit --name h2 --network host busybox"),
         (("h1", HOST), ("h2", HOST)),
         ((N_("gets"), N_("no network namespace: its processes run in the host's, with the host's eth0 "
                          "(198.51.100.10), routes and firewall")),
          (N_("shares"), N_("everything with the host and every other host-mode container, port numbers "
                            "included: two servers on port 80 clash")),
          (N_("way out"), N_("as the host itself: no bridge, no NAT in the path")),
          (N_("way in"), N_("at the host's own address, directly; -p is discarded")),
          (N_("kernel objects"), N_("none added: no netns, no veth, no iptables rule")))),
    Mode("container", N_("two containers in one namespace, as in a Kubernetes pod"),
         ("run -dit --name pod busybox", "run -dit --name side --network container:pod busybox"),
         (("pod", HOST), ("side", HOST)),
         ((N_("gets"), N_("side (--network container:pod) gets no namespace of its own: it runs in pod's")),
          (N_("shares"), N_("pod's eth0, address 172.17.0.2, MAC, routes, ports and lo: the two talk over "
                            "127.0.0.1, like the containers of a Kubernetes pod")),
          (N_("way out"), N_("as pod, a bridge container here: through docker0, masqueraded by the host")),
          (N_("way in"), N_("as pod: only pod's published ports; Docker refuses -p, --dns, --hostname and "
                            "--mac-address on side")),
          (N_("kernel objects"), N_("nothing for side: pod's netns and its veth pair on docker0 are all "
                                    "there is")))),
    Mode("macvlan", N_("containers straight on the LAN, each with its own MAC and address"),
         (MACVLAN_NET, "run -dit --name m1 --network lan busybox", "run -dit --name m2 --network lan busybox"),
         (("m1", HOST), ("m2", HOST)),
         ((N_("gets"), N_("its own netns whose eth0 is a macvlan of the host's eth0: its own MAC and a LAN "
                          "address from --ip-range 198.51.100.128/25")),
          (N_("shares"), N_("the host's cable (the parent, eth0): macvlans in bridge mode reach each other "
                            "inside the parent")),
          (N_("way out"), N_("straight onto the LAN, default route via the router 198.51.100.1: no NAT")),
          (N_("way in"), N_("the LAN reaches it at its own address, but its own host cannot: a parent never "
                            "hears its macvlans (a shim macvlan on the host fixes that, in 05)")),
          (N_("kernel objects"), N_("one macvlan interface per container; no bridge, no veth, no iptables "
                                    "rule")))),
    Mode("overlay", N_("one subnet across two hosts, carried in VXLAN over the LAN"),
         ("swarm init", "swarm join-token -q worker",
          "-H host2 swarm join --token $TOKEN 198.51.100.10:2377",
          "network create -d overlay --attachable ov1",
          "run -dit --name o1 --network ov1 busybox", "-H host2 run -dit --name o2 --network ov1 busybox"),
         (("o1", HOST), ("o2", "host2")),
         ((N_("gets"), N_("eth0 on ov1 (10.0.1.0/24, MTU 1450), one subnet on both hosts, and eth1 on "
                          "docker_gwbridge (172.18.0.0/16) for the way out")),
          (N_("shares"), N_("on each host, the network's sandbox namespace: a bridge br0 and vxlan0 (VNI "
                            "4097); frames between hosts travel inside UDP packets to port 4789 across the "
                            "LAN")),
          (N_("control plane"), N_("swarm init and join; the hosts gossip on port 7946 and fill vxlan0's FDB "
                                   "(which MAC is behind which host)")),
          (N_("way out"), N_("through eth1 and docker_gwbridge, masqueraded by its host")),
          (N_("way in"), N_("only from containers on ov1: the hosts themselves have no route to 10.0.1.0/24")),
          (N_("kernel objects"), N_("per container a netns and two veth pairs; per host a sandbox netns with "
                                    "br0, vxlan0 and its FDB entries, and the bridge docker_gwbridge")))),
)}


def mode_named(name: str) -> Mode:
    """The :class:`Mode` called ``name``; InvalidValue names the modes (and the likely one) if none."""
    if name in MODES:
        return MODES[name]
    close = difflib.get_close_matches(str(name), MODES, n=1)
    hint = _("; did you mean {mode}?").format(mode=repr(close[0])) if close else ""
    raise InvalidValue(_("mode {name} is not one of {modes}{hint}").format(
        name=repr(name), modes=", ".join(MODES), hint=hint))


def commands(mode: str) -> list[str]:
    """The docker command lines that build ``mode``, as a learner would type them in a shell."""
    return [f"TOKEN=$(docker {line})" if "join-token -q" in line else f"docker {line}"
            for line in mode_named(mode).commands]


def build(mode: str, *, progress=None) -> Lab:
    """A new lab with ``mode`` built by the lab's docker commands (the caller closes it).

    ``progress(done, total, text)`` is called before each step. On an error the lab is closed.
    """
    spec, report = mode_named(mode), progress or (lambda done, total, text: None)
    total = 1 + len(spec.commands)
    report(0, total, _("starting a lab"))
    lab, token = Lab(), ""
    try:
        for done, (line, shown) in enumerate(zip(spec.commands, commands(mode)), 1):
            report(done, total, shown)
            output = lab.docker(line.replace("$TOKEN", token))
            if "join-token -q" in line:  # the join token, as TOKEN=$(docker swarm join-token -q worker)
                token = output.strip()
    except BaseException:
        lab.close()
        raise
    report(total, total, _("{mode} built").format(mode=mode))
    return lab


@dataclass(frozen=True)
class Endpoint:
    """A row and column of the matrix: who pings (in ``node``) and the address it answers on."""

    label: str
    node: str
    address: str | None   # None: nothing to ping (a none container)
    container: bool


def _eth0_address(lab: Lab, node: str) -> str | None:
    addresses = lab.snapshot([node])[node]["addresses"]
    return next((a["address"].split("/")[0] for a in addresses
                 if a["dev"] == "eth0" and a["family"] == "inet"), None)


def endpoints(lab: Lab, mode: str) -> list[Endpoint]:
    """The mode's containers, then its Docker hosts, the LAN client and the internet server."""
    spec, found = mode_named(mode), []
    for name, host in spec.containers:
        node = lab.docker_host(host).container(name).node  # host mode: the host; container:X: X's
        found.append(Endpoint(name, node, _eth0_address(lab, node), True))
    hosts = list(dict.fromkeys(host for _name, host in spec.containers))
    found += [Endpoint(host, host, world.address_of(lab, host), False) for host in hosts]
    found += [Endpoint(world.LAN_CLIENT, world.LAN_CLIENT, world.LAN_CLIENT_IP, False),
              Endpoint(world.INTERNET, world.INTERNET, world.INTERNET_IP, False)]
    return found


def reachability(lab: Lab, points: list[Endpoint]) -> dict:
    """Ping (``ping -c1 -W1``) from every endpoint to every other one's address, all at once.

    Returns {(from, to): True (a reply), False (none) or None (no address)}; at most about 1 s.
    """
    running = []
    for source in points:
        script = "\n".join(f"(ping -c1 -W1 -q {t.address} >/dev/null 2>&1; echo {t.label} $?) &"
                           for t in points if t.address and t != source) + "\nwait"
        running.append((source, lab.node(source.node).start(["sh", "-c", script])))
    result = {}
    for source, process in running:
        codes = dict(line.split() for line in process.wait(timeout=10).splitlines() if len(line.split()) == 2)
        for target in points:
            if target != source:
                result[(source.label, target.label)] = codes.get(target.label) == "0" if target.address else None
    return result


MARKS = {True: "✓", False: "✗", None: "–"}


def matrix_text(points: list[Endpoint], result: dict) -> str:
    """The ping matrix as a table: rows ping columns (✓ reply, ✗ none, – no address, · itself)."""
    labels = [p.label for p in points]
    corner = _("from \\ to")
    first = max(layout.width(corner), *map(layout.width, labels)) + 2
    widths = [layout.width(label) + 2 for label in labels]
    lines = [_("ping -c1 -W1 from each row to each column: ✓ reply, ✗ no reply, – no address to ping"),
             layout.ljust(corner, first) + "".join(layout.ljust(label, w) for label, w in zip(labels, widths))]
    for row in labels:
        marks = ["·" if column == row else MARKS[result[(row, column)]] for column in labels]
        lines.append(layout.ljust(row, first) + "".join(mark.ljust(w) for mark, w in zip(marks, widths)))
    lines.append(_("addresses: {addresses}").format(addresses=", ".join(_where(p) for p in points)))
    return "\n".join(line.rstrip() for line in lines)


def _where(point: Endpoint) -> str:
    address = point.address or _("(none)")
    if point.container and point.node != point.label:
        return _("{label} {address} (in {node}'s namespace)").format(label=point.label, address=address,
                                                                       node=point.node)
    return f"{point.label} {address}"


def facts_text(mode: str) -> str:
    """The mode's name, its summary, the docker commands that build it and its key facts."""
    spec = mode_named(mode)
    lines = [f"{spec.name} — {_(spec.summary)}", *(f"  $ {line}" for line in commands(mode)), ""]
    for topic, fact in spec.facts:
        lines += layout.wrap(_(fact), 108, layout.rjust(_(topic), 14) + "  ", " " * 16)
    return "\n".join(lines)


def draw(lab: Lab, mode: str):
    """The lab's topology, drawn from the live kernel (a matplotlib Figure)."""
    return lab.plot(title=_("{mode} mode").format(mode=mode))


def show(mode: str) -> None:
    """Build ``mode`` in a fresh lab, print its facts, draw it, print its ping matrix, close the lab."""
    from IPython.display import display

    with build(mode) as lab:
        print(facts_text(mode), end="\n\n", flush=True)
        display(draw(lab, mode))
        points = endpoints(lab, mode)
        print(matrix_text(points, reachability(lab, points)))


# --- the widget glue -------------------------------------------------------------------------------
_current: "Explorer | None" = None
STAND_IN = N_("Network-mode explorer: a live widget, shown when this cell runs in Jupyter")


def widget() -> "Explorer":
    """A new explorer widget (the previous one's lab is closed first: nothing left behind)."""
    global _current
    if _current is not None:
        _current.close()
    _current = Explorer()
    return _current


class Explorer:
    """A drop-down of modes, a ping button, a progress bar and an output area.

    Choosing a mode closes the previous lab, builds the new one (the bar follows each docker
    command), prints its facts and draws it; the button pings every pair live. ``.lab`` is
    the open lab, to look around in (``%lab c1 ip -br addr`` works on it).
    """

    def __init__(self) -> None:
        import ipywidgets as w

        self.lab: Lab | None = None
        self.mode = w.Dropdown(options=list(MODES), value=None, description=_("Mode:"))
        self.ping = w.Button(description=_("Ping every pair"), disabled=True, icon="exchange",
                             tooltip=_("ping -c1 -W1 between every two machines, all at once"))
        self.bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="160px", visibility="hidden"))
        self.status = w.HTML(_("Choose a mode: its lab is built for real, described and drawn."))
        self.out = w.Output()
        self.box = w.VBox([w.HBox([self.mode, self.ping]), w.HBox([self.bar, self.status]), self.out])
        self.mode.observe(lambda change: self.select(change["new"]), names="value")
        self.ping.on_click(lambda _button: self.run_pings())

    def _progress(self, done: int, total: int, text: str) -> None:
        self.bar.max, self.bar.value = total, done
        self.status.value = f"{done}/{total} <code>{_html(text)}</code>"

    def _busy(self, busy: bool) -> None:
        self.mode.disabled = busy
        self.ping.disabled = busy or self.lab is None
        self.bar.layout.visibility = "visible" if busy else "hidden"

    def select(self, mode: str | None) -> None:
        """Close the current lab; build ``mode``, describe and draw it."""
        self._busy(True)
        self.out.outputs = ()  # (not clear_output(): that goes through the kernel's current message)
        try:
            self._close_lab()
            if mode is None:
                return
            self.out.append_stdout(facts_text(mode) + "\n")
            self.lab = build(mode, progress=self._progress)
            self._progress(1, 1, _("drawing the topology"))
            self.out.outputs += (_png_output(draw(self.lab, mode)),)
            self.status.value = _("{mode} is built. Press <b>{button}</b>.").format(mode=mode,
                                                                                    button=_("Ping every pair"))
        except (LabError, OSError) as error:
            self._failed(error)
        finally:
            self._busy(False)

    def run_pings(self) -> None:
        """Ping every pair in the current lab and show the matrix."""
        if self.lab is None:
            return
        self._busy(True)
        try:
            points = endpoints(self.lab, self.mode.value)
            self._progress(0, 1, _("pinging {pairs} pairs at once (at most 1 s)").format(
                pairs=len(points) * (len(points) - 1)))
            self.out.append_stdout("\n" + matrix_text(points, reachability(self.lab, points)) + "\n")
            self.status.value = _("Pinged. Change something in <code>.lab</code> and ping again, or choose a "
                                  "mode.")
        except (LabError, OSError) as error:
            self._failed(error)
        finally:
            self._busy(False)

    def _failed(self, error: Exception) -> None:
        self.status.value = _("<b>failed</b>: {error}").format(error=_html(type(error).__name__))
        self.out.append_stdout(f"{type(error).__name__}: {error}\n")

    def _close_lab(self) -> None:
        if self.lab is not None:
            self._progress(0, 1, _("closing the previous lab"))
            self.lab.close()
            self.lab = None

    def close(self) -> None:
        """Close the lab (if any); the widgets stay, with no mode chosen."""
        self._close_lab()
        self.ping.disabled = True

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = _(STAND_IN)  # what a saved notebook shows (and nbval compares) in its place
        return bundle


def _png_output(figure) -> dict:
    """A figure as a display_data output for an Output widget (its PNG in base64, as Jupyter stores it;
    ``append_display_data`` would pass the raw bytes, which the browser cannot show)."""
    from .plot.legibility import png as checked_png

    png = base64.b64encode(checked_png(figure)).decode("ascii")
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": png, "text/plain": repr(figure)}}


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
