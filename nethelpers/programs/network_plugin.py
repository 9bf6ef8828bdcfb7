"""A remote network driver and IPAM plugin, as a Docker plugin process would be.

    python -m nethelpers.programs.network_plugin --name labnet [--pool 10.99.0.0/24 ...]

It listens on ``/run/docker/plugins/NAME.sock`` and answers HTTP/1.1 POSTs with JSON
(``Content-Type: application/vnd.docker.plugins.v1.2+json``): ``/Plugin.Activate``,
``/NetworkDriver.*`` (a bridge per network, a veth pair per endpoint, made with ``ip``
in the namespace it runs in) and ``/IpamDriver.*`` (its own pools). A method it does
not implement gets ``404 page not found``; a refused request gets ``{"Err": ...}``
(``{"Error": ...}`` for IPAM calls, as ``ipams/remote/api`` reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import socketserver
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

from ..cnm.driverapi import GENERIC, Driver
from ..cnm.errors import CNMError, DriverFailure, Forbidden, NoSuchObject
from ..cnm.ids import mac_from_ip, veth_name
from ..cnm.ipam import DefaultIpam
from ..cnm.remote import SOCKETS

BRIDGE_NAME = "com.docker.network.bridge.name"

MIMETYPE = "application/vnd.docker.plugins.v1.2+json"
NETWORK_METHODS = {"GetCapabilities": "capabilities", "CreateNetwork": "create_network",
                   "DeleteNetwork": "delete_network", "CreateEndpoint": "create_endpoint",
                   "EndpointOperInfo": "endpoint_oper_info", "DeleteEndpoint": "delete_endpoint",
                   "Join": "join", "Leave": "leave"}
IPAM_METHODS = {"GetCapabilities": "capabilities", "GetDefaultAddressSpaces": "get_default_address_spaces",
                "RequestPool": "request_pool", "ReleasePool": "release_pool",
                "RequestAddress": "request_address", "ReleaseAddress": "release_address"}


def run_ip(command: str) -> None:
    """Run an ``ip`` command line here; raise DriverFailure with what it printed."""
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10)
    if done.returncode:
        raise DriverFailure(f"{command}: {(done.stderr or done.stdout).strip()}", "see the plugin's output")


class PluginBridge(Driver):
    """The plugin's driver: a Linux bridge per network, a veth pair per endpoint, made with ``ip``
    in the namespace the plugin runs in (libnetwork's ``bridge`` without its firewall).

    CreateNetwork makes the bridge with the gateway address IPAM gave; CreateEndpoint a
    veth pair with one end on the bridge; Join names the other end (``SrcName``) for
    libnetwork to move into the sandbox and rename ``DstPrefix`` + index; DeleteEndpoint
    deletes the pair. No iptables rules.

    Args:
        run: runs one shell command line in the daemon's network namespace; raises on failure.
        prefix: the bridge's name is PREFIX + the network ID's first 12 digits (unless the
            ``com.docker.network.bridge.name`` option names it).
        dst_prefix: what the interface is called in the sandbox, before its index.
    """

    def __init__(self, run, *, prefix: str = "br-", dst_prefix: str = "eth") -> None:
        self.run, self.prefix, self.dst_prefix = run, prefix, dst_prefix
        self.networks: dict[str, dict] = {}
        self.endpoints: dict[str, dict] = {}

    def _network(self, nid: str) -> dict:
        if nid not in self.networks:
            raise NoSuchObject(f"network {nid} does not exist", "create the network first")
        return self.networks[nid]

    def _endpoint(self, req: dict) -> dict:
        self._network(req.get("NetworkID", ""))
        eid = req.get("EndpointID", "")
        if eid not in self.endpoints:
            raise NoSuchObject(f"endpoint {eid} not found", "create the endpoint first")
        return self.endpoints[eid]

    def create_network(self, req: dict) -> dict:
        nid = req["NetworkID"]
        if nid in self.networks:
            raise Forbidden(f"network {nid} already exists", "use another network ID")
        ipv4 = (req.get("IPv4Data") or [{}])[0]
        if not ipv4.get("Gateway"):
            raise Forbidden("the bridge driver needs IPv4Data with a Gateway", "create it with an IPAM pool")
        options = (req.get("Options") or {}).get(GENERIC) or {}
        name = options.get(BRIDGE_NAME) or self.prefix + nid[:12]
        self.run(f"ip link add {name} type bridge")
        try:
            self.run(f"ip addr add {ipv4['Gateway']} dev {name} && ip link set {name} up")
        except Exception:
            self.run(f"ip link del {name}")
            raise
        self.networks[nid] = {"bridge": name, "gateway": ipv4["Gateway"].split("/")[0]}
        return {}

    def delete_network(self, req: dict) -> dict:
        network = self._network(req.get("NetworkID", ""))
        self.run(f"ip link del {network['bridge']}")
        del self.networks[req["NetworkID"]]
        return {}

    def create_endpoint(self, req: dict) -> dict:
        network, eid = self._network(req.get("NetworkID", "")), req.get("EndpointID", "")
        if eid in self.endpoints:
            raise Forbidden(f"Endpoint ({eid}) already exists (Only one endpoint allowed)",
                            "use a new endpoint ID")
        iface = req.get("Interface") or {}
        address = iface.get("Address") or ""
        mac = iface.get("MacAddress") or (mac_from_ip(address.split("/")[0]) if address else "")
        host_end, sandbox_end = veth_name(eid, "host"), veth_name(eid, "sandbox")
        self.run(f"ip link add {host_end} type veth peer name {sandbox_end}")
        try:
            self.run((f"ip link set {sandbox_end} address {mac} && " if mac else "")
                     + f"ip link set {host_end} master {network['bridge']} up")
        except Exception:
            self.run(f"ip link del {host_end}")
            raise
        self.endpoints[eid] = {"host": host_end, "sandbox": sandbox_end, "mac": mac, "address": address}
        if mac and not iface.get("MacAddress"):
            return {"Interface": {"MacAddress": mac}}  # the driver chose it
        return {}

    def endpoint_oper_info(self, req: dict) -> dict:
        ep = self._endpoint(req)
        return {"Value": {"com.docker.network.endpoint.macaddress": ep["mac"], "HostInterface": ep["host"]}}

    def delete_endpoint(self, req: dict) -> dict:
        ep = self._endpoint(req)
        self.run(f"ip link del {ep['host']}")
        del self.endpoints[req["EndpointID"]]
        return {}

    def join(self, req: dict) -> dict:
        ep, network = self._endpoint(req), self._network(req["NetworkID"])
        return {"InterfaceName": {"SrcName": ep["sandbox"], "DstPrefix": self.dst_prefix},
                "Gateway": network["gateway"], "StaticRoutes": []}

    def leave(self, req: dict) -> dict:
        self._endpoint(req)
        return {}


class Plugin:
    """What the plugin knows: its driver and its IPAM, and which method calls which."""

    def __init__(self, name: str, pools: list[str] | None = None) -> None:
        self.name = name
        self.driver = PluginBridge(run_ip, prefix="pl-", dst_prefix="eth")
        self.ipam = DefaultIpam(pools or [f"10.99.{n}.0/24" for n in range(256)],
                                spaces=(f"{name}-local", f"{name}-global"))

    def handle(self, path: str, body) -> tuple[int, object]:
        """(status, answer) for a POST to ``path``."""
        if path == "/Plugin.Activate":
            return 200, {"Implements": ["NetworkDriver", "IpamDriver"]}
        kind, _, method = path.lstrip("/").partition(".")
        table, target, error_field = {
            "NetworkDriver": (NETWORK_METHODS, self.driver, "Err"),
            "IpamDriver": (IPAM_METHODS, self.ipam, "Error"),
        }.get(kind, ({}, None, "Err"))
        if method not in table:
            return 404, "404 page not found\n"
        try:
            return 200, getattr(target, table[method])(body if body is not None else {})
        except CNMError as exc:
            return 200, {error_field: exc.libnetwork}
        except Exception as exc:  # a malformed request (a missing field...): the plugin stays up
            return 500, {"Err": f"{type(exc).__name__}: {exc}"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds a silent client may hold the (single-threaded) server
    server_version = "lab-plugin"
    sys_version = ""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            return self._send(400, {"Err": f"invalid JSON: {exc}"})
        status, answer = self.server.plugin.handle(self.path, body)
        print(f"{self.path} -> {status}", flush=True)
        self._send(status, answer)

    def _send(self, status: int, answer) -> None:
        text = answer if isinstance(answer, str) else json.dumps(answer) + "\n"
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if isinstance(answer, str) else MIMETYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # a unix socket has no client address to log
        pass


class Server(socketserver.UnixStreamServer):
    timeout = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nethelpers.programs.network_plugin", description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="plugin name: its socket is /run/docker/plugins/NAME.sock")
    parser.add_argument("--pool", action="append", help="a subnet its IPAM hands out (repeatable)")
    args = parser.parse_args(argv)
    if not args.name.replace("-", "").replace("_", "").isalnum():
        parser.error(f"plugin name {args.name!r}: letters, digits, '-' and '_' only")
    os.makedirs(SOCKETS, exist_ok=True)
    path = f"{SOCKETS}/{args.name}.sock"
    if os.path.exists(path):
        os.unlink(path)
    server = Server(path, Handler)
    server.plugin = Plugin(args.name, args.pool)
    print(f"listening on {path}", flush=True)
    try:
        server.serve_forever()
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
