"""The client side of libnetwork's remote protocol: plugins over HTTP on a unix socket.

A plugin listens on ``/run/docker/plugins/NAME.sock`` (inside the lab's sandbox). The
client POSTs ``/Plugin.Activate`` and learns what the plugin implements; then every
driver and IPAM call is a POST of a JSON body to ``/NetworkDriver.<Method>`` or
``/IpamDriver.<Method>``, as ``libnetwork/drivers/remote`` and ``ipams/remote`` send
them. Each exchange is kept (``exchanges``) so that a notebook can show the JSON.
"""

from __future__ import annotations

import json
import sys

from .errors import PluginError

SOCKETS = "/run/docker/plugins"


def socket_path(name: str) -> str:
    """Where Docker looks for plugin ``name``'s socket."""
    return f"{SOCKETS}/{name}.sock"


class PluginClient:
    """``pkg/plugins.Client``: one plugin's socket, reached through the lab's sandbox.

    Args:
        lab: the Lab whose sandbox holds the socket.
        name: the plugin's name (its socket is /run/docker/plugins/NAME.sock).
        exchanges: the list every request and response is appended to.
    """

    def __init__(self, lab, name: str, exchanges: list | None = None, timeout: float = 10) -> None:
        self.lab, self.name, self.timeout = lab, name, timeout
        self.path = socket_path(name)
        self.exchanges = exchanges if exchanges is not None else []

    def call(self, method: str, body=None, *, error_field: str = "Err") -> dict:
        """POST ``/METHOD`` with ``body`` (None: no body); the decoded answer.

        Raises PluginError: ``METHOD: ERR`` for an HTTP error status (``.status`` 404 when
        the plugin does not implement it), ``remote: ERR`` for an answer carrying an error.
        """
        reply = self.lab.http_over_unix(self.path, "POST", "/" + method, body, timeout=self.timeout)
        answer = reply["json"] if reply["json"] is not None else reply["text"]
        self.exchanges.append({"plugin": self.name, "method": method, "request": body,
                               "status": reply["status"], "content_type": reply["content_type"],
                               "response": answer})
        if reply["status"] != 200:
            err = answer.get("Err") if isinstance(answer, dict) and answer.get("Err") else reply["text"]
            raise PluginError(f"{method}: {err}", f"plugin {self.name!r} refused it", status=reply["status"])
        if not isinstance(answer, dict):
            raise PluginError(f"{method}: the answer is not a JSON object: {reply['text'][:200]!r}",
                              f"plugin {self.name!r} must answer JSON")
        if answer.get(error_field):
            raise PluginError(f"remote: {answer[error_field]}", f"plugin {self.name!r} refused {method}")
        return answer

    def activate(self) -> dict:
        """``Plugin.Activate``: the manifest, e.g. ``{"Implements": ["NetworkDriver"]}``."""
        return self.call("Plugin.Activate")


class RemoteDriver:
    """``drivers/remote``: the driver interface of :mod:`.drivers`, forwarded to a plugin."""

    def __init__(self, client: PluginClient, before_call=None) -> None:
        self.client, self.before_call = client, before_call

    def _call(self, method: str, req) -> dict:
        if self.before_call is not None:  # the plugin acts on the kernel itself: what is queued goes first
            self.before_call()
        return self.client.call("NetworkDriver." + method, req)

    def capabilities(self, req=None) -> dict:
        answer = self._call("GetCapabilities", None)
        scope, connectivity = answer.get("Scope"), answer.get("ConnectivityScope") or answer.get("Scope")
        if scope not in ("local", "global") or connectivity not in ("local", "global"):
            raise PluginError(f"invalid capability: expecting 'local' or 'global', got {scope}",
                              f"plugin {self.client.name!r} must answer Scope local or global")
        return {"Scope": scope, "ConnectivityScope": connectivity}

    def create_network(self, req: dict) -> dict:
        return self._call("CreateNetwork", req)

    def delete_network(self, req: dict) -> dict:
        return self._call("DeleteNetwork", req)

    def create_endpoint(self, req: dict) -> dict:
        return self._call("CreateEndpoint", req)

    def endpoint_oper_info(self, req: dict) -> dict:
        return self._call("EndpointOperInfo", req)

    def delete_endpoint(self, req: dict) -> dict:
        return self._call("DeleteEndpoint", req)

    def join(self, req: dict) -> dict:
        return self._call("Join", req)

    def leave(self, req: dict) -> dict:
        return self._call("Leave", req)

    def program_external_connectivity(self, req: dict) -> dict:
        return self._optional("ProgramExternalConnectivity", req)

    def revoke_external_connectivity(self, req: dict) -> dict:
        return self._optional("RevokeExternalConnectivity", req)

    def _optional(self, method: str, req: dict) -> dict:
        try:
            return self._call(method, req)
        except PluginError as exc:
            if exc.status == 404:  # "not mandatory yet to support this method"
                return {}
            raise


class RemoteIpam:
    """``ipams/remote``: the IPAM interface of :mod:`.ipam`, forwarded to a plugin.

    Its answers carry errors in ``Error`` (not ``Err``), as ``ipams/remote/api`` says.
    """

    def __init__(self, client: PluginClient) -> None:
        self.client = client

    def _call(self, method: str, req) -> dict:
        return self.client.call("IpamDriver." + method, req, error_field="Error")

    def capabilities(self) -> dict:
        try:
            answer = self._call("GetCapabilities", None)
        except PluginError as exc:
            if exc.status != 404:
                raise
            answer = {}
        return {"RequiresMACAddress": bool(answer.get("RequiresMACAddress")),
                "RequiresRequestReplay": bool(answer.get("RequiresRequestReplay"))}

    def get_default_address_spaces(self) -> dict:
        return self._call("GetDefaultAddressSpaces", None)

    def request_pool(self, req: dict) -> dict:
        self.get_default_address_spaces()  # libnetwork asks again before every pool (overlap check)
        return self._call("RequestPool", req)

    def release_pool(self, req: dict) -> dict:
        return self._call("ReleasePool", req)

    def request_address(self, req: dict) -> dict:
        return self._call("RequestAddress", req)

    def release_address(self, req: dict) -> dict:
        return self._call("ReleaseAddress", req)


def start_plugin(node, name: str, *, pools: list[str] | None = None, timeout: float = 10):
    """Start ``python -m nethelpers.programs.network_plugin`` in ``node`` (the daemon's namespace, where
    the veths it makes must be); returns the BackgroundProcess once it listens."""
    command = [sys.executable, "-m", "nethelpers.programs.network_plugin", "--name", name]
    for pool in pools or []:
        command += ["--pool", pool]
    process = node.start(command)
    process.wait_for("listening on", timeout=timeout)
    return process


def format_exchanges(exchanges: list[dict]) -> str:
    """The exchanges as a reader would like them: ``POST /Method``, the body, the answer."""
    lines = []
    for ex in exchanges:
        lines.append(f"POST /{ex['method']}  ({ex['plugin']})")
        lines.append("  -> " + ("(no body)" if ex["request"] is None else json.dumps(ex["request"])))
        answer = ex["response"] if isinstance(ex["response"], str) else json.dumps(ex["response"])
        lines.append(f"  <- {ex['status']} {answer.strip()}")
    return "\n".join(lines)
