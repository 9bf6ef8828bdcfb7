"""libnetwork's ``osl``: putting an endpoint's interface into a sandbox and taking it out.

The daemon does this, not the driver: after ``Join`` it moves the interface the driver
named (``SrcName``) into the sandbox's namespace, renames it ``DstPrefix`` + index,
sets its MAC and address, brings it up and adds its routes; at ``Leave`` it takes it
down, gives it back its name and moves it back. Each step is one ``ip`` command run in
the daemon's namespace (``ip -n SANDBOX`` reaches into the sandbox).
"""

from __future__ import annotations


def add_interface(sandbox: str | None, src: str, dst: str, *, mac: str = "", address: str = "",
                  routes: list[dict] = ()) -> list[str]:
    """The commands of ``Namespace.AddInterface`` (``sandbox`` None: the default sandbox)."""
    ns = f"ip -n {sandbox} " if sandbox else "ip "
    commands = [f"ip link set {src} netns {sandbox}"] if sandbox else []
    commands.append(ns + f"link set {src} down")
    if dst != src or mac:
        commands.append(ns + f"link set {src}" + (f" name {dst}" if dst != src else "")
                        + (f" address {mac}" if mac else ""))
    if address:
        commands.append(ns + f"addr add {address} dev {dst}")
    commands.append(ns + f"link set {dst} up")
    for route in routes:
        via = f" via {route['NextHop']}" if route.get("RouteType", 0) == 0 and route.get("NextHop") else ""
        commands.append(ns + f"route add {route['Destination']}{via} dev {dst}")
    return commands


def remove_interface(sandbox: str | None, src: str, dst: str, *, host: str, address: str = "") -> list[str]:
    """The commands of ``Namespace.RemoveInterface``: down, old name, back to ``host``."""
    ns = f"ip -n {sandbox} " if sandbox else "ip "
    commands = [ns + f"link set {dst} down"]
    if address and not sandbox:  # moving namespaces drops addresses by itself
        commands.append(ns + f"addr del {address} dev {dst}")
    if dst != src:
        commands.append(ns + f"link set {dst} name {src}")
    if sandbox:
        commands.append(ns + f"link set {src} netns {host}")
    return commands


def set_gateway(sandbox: str | None, gateway: str) -> list[str]:
    return [(f"ip -n {sandbox} " if sandbox else "ip ") + f"route add default via {gateway}"]


def unset_gateway(sandbox: str | None, gateway: str) -> list[str]:
    return [(f"ip -n {sandbox} " if sandbox else "ip ") + f"route del default via {gateway}"]
