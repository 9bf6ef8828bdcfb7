"""How the runtime executes one plugin, as libcni's ``pkg/invoke`` does: found along ``CNI_PATH``,
its request configuration derived (spec section 3), run in the host node with the ``CNI_*``
variables, its output decoded or its error raised as a :class:`CNIError`; and the version of
a list negotiated with each plugin's VERSION.

:class:`Invoker` is part of :class:`nethelpers.cni.runtime.Runtime`.
"""

from __future__ import annotations

import copy
import json
import os
import time

from ..i18n import _
from .config import NetworkConfigList, version_key
from .errors import CNIError
from .exchange import Exchange, Outcome

NETWORKS_DIR = "/run/nethelpers/cni/networks"
_FIXES = {
    1: 'offer a version the plugin supports in "cniVersion"/"cniVersions"',
    2: "remove or correct the field the message names",
    3: "the container is gone: nothing to clean up for it",
    4: "check the container ID, interface name and namespace given to the runtime",
    7: "correct the plugin's configuration as the details say",
    11: "try again in a moment",
    50: "the plugin cannot add containers now; see its details",
    51: "the plugin cannot add containers now; see its details",
}


class Invoker:
    """Executing plugins; mixed into :class:`nethelpers.cni.runtime.Runtime` (which sets ``path``,
    ``host``, ``timeout``, ``negotiate`` and ``_versions``)."""

    # --- how plugins are executed -------------------------------------------------------
    def find(self, plugin_type: str) -> str:
        """The plugin's executable, first found along ``CNI_PATH``."""
        for directory in self.path:
            candidate = os.path.join(directory, plugin_type)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        # invoke.FindInPath (containernetworking/cni v1.2.3 pkg/invoke/find.go): the paths as Go prints a []string
        raise CNIError(None, f'failed to find plugin "{plugin_type}" in path [{" ".join(self.path)}]',
                       fix="check the plugin's \"type\" (installed ones: "
                           + ", ".join(sorted(self._installed())) + ")")

    def _installed(self) -> set[str]:
        names = set()
        for directory in self.path:
            if os.path.isdir(directory):
                names.update(n for n in os.listdir(directory) if os.access(os.path.join(directory, n), os.X_OK))
        return names

    def _request(self, conf: NetworkConfigList, plugin: dict, cni_version: str, prev: dict | None = None,
                 capability_args: dict | None = None) -> dict:
        """The plugin's configuration as sent on stdin (spec section 3, "Deriving request configuration").

        GC and STATUS (``capability_args`` None) only get ``name`` and ``cniVersion``.
        """
        request = {"cniVersion": cni_version, "name": conf.name}   # first, as in the spec's examples
        request.update((k, copy.deepcopy(v)) for k, v in plugin.items() if k not in request)
        ipam = request.get("ipam")
        if isinstance(ipam, dict) and ipam.get("type") == "host-local" and "dataDir" not in ipam:
            ipam["dataDir"] = NETWORKS_DIR
        if capability_args is None:
            return request
        capabilities = request.pop("capabilities", {}) or {}
        runtime_config = {key: value for key, value in capability_args.items() if capabilities.get(key)}
        request.pop("runtimeConfig", None)
        if runtime_config:
            request["runtimeConfig"] = runtime_config
        if prev is not None:
            request["prevResult"] = prev
        return request

    def _exec(self, plugin_type: str, command: str, request: dict, outcome: Outcome, container_id: str = "",
              netns: str = "", ifname: str = "", args: str = "") -> dict | None:
        """Run one plugin in the host node; its stdout decoded, or its error raised as CNIError."""
        path = self.find(plugin_type)
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns,
               "CNI_ARGS": args, "CNI_IFNAME": ifname, "CNI_PATH": ":".join(self.path)}
        start = time.monotonic()
        reply = self.host.run(["env", *(f"{k}={v}" for k, v in env.items()), path],
                              input=json.dumps(request), timeout=self.timeout)
        exchange = Exchange(plugin_type, command, env, request, reply.rc, None, reply.stderr,
                            round(time.monotonic() - start, 3), path)
        outcome.exchanges.append(exchange)
        text = reply.stdout.strip()
        try:
            exchange.response = json.loads(text) if text else None
        except json.JSONDecodeError:
            if reply.rc == 0:
                raise CNIError(6, "failed to decode the plugin's output", text[:300], plugin=plugin_type,
                               command=command, exchanges=outcome.exchanges,
                               fix="a plugin must print one JSON object on stdout") from None
        if reply.rc != 0:
            raise _plugin_error(plugin_type, command, reply, exchange.response, outcome)
        return exchange.response

    def _version(self, plugin_type: str, cni_version: str, outcome: Outcome) -> dict:
        if plugin_type not in self._versions:
            info = self._exec(plugin_type, "VERSION", {"cniVersion": cni_version}, outcome)
            if not isinstance(info, dict) or not isinstance(info.get("supportedVersions"), list):
                raise CNIError(6, "failed to decode version info", json.dumps(info), plugin=plugin_type,
                               command="VERSION", fix="VERSION must print {\"cniVersion\", \"supportedVersions\"}")
            self._versions[plugin_type] = info
        return self._versions[plugin_type]

    def _negotiate(self, conf: NetworkConfigList, outcome: Outcome) -> str:
        """The highest version the configuration offers that every plugin in it supports.

        The delegated IPAM plugins it names count too: they get the same configuration.
        """
        if not self.negotiate:
            return conf.cni_version
        ipams = [p["ipam"]["type"] for p in conf.plugins
                 if isinstance(p.get("ipam"), dict) and isinstance(p["ipam"].get("type"), str)]
        supported = {t: set(self._version(t, conf.cni_version, outcome)["supportedVersions"])
                     for t in dict.fromkeys(conf.types + ipams)}
        for version in conf.versions:
            if all(version in versions for versions in supported.values()):
                if version != conf.versions[0]:
                    outcome.notes.append(_("version {version}: the highest the configuration offers that "
                                           "{plugins} support").format(version=version, plugins=", ".join(supported)))
                return version
        lacking = [t for t, versions in supported.items() if conf.versions[0] not in versions]
        # as the first plugin that lacks it answers (pkg/version/reconcile.go ErrorIncompatible.Details,
        # returned by skel with code 1: 'config is "1.1.0", plugin supports ["0.1.0" ...]')
        offered = " ".join(f'"{v}"' for v in sorted(supported[lacking[0]], key=version_key))
        raise CNIError(1, "incompatible CNI versions",
                       f'config is "{conf.versions[0]}", plugin supports [{offered}]',
                       exchanges=outcome.exchanges,
                       fix='add a version every plugin supports to "cniVersions" '
                           '(the reference plugins 1.1.x speak up to 1.0.0)')


def _plugin_error(plugin_type: str, command: str, reply, response, outcome: Outcome) -> CNIError:
    """A failed plugin's error result as a CNIError (libcni: stdout JSON, else its stderr)."""
    if isinstance(response, dict) and "code" in response:
        code = response.get("code")
        msg = str(response.get("msg", ""))
        fix = _FIXES.get(code, "")
        if plugin_type == "portmap" and command == "CHECK" and "ipv6" in msg:
            fix = ("a known bug of portmap before 1.2 (containernetworking/plugins#819): its CHECK looks for "
                   "IPv6 rules it never made; set \"disableCheck\": true on this list")
        return CNIError(code, msg, str(response.get("details", "") or ""), plugin=plugin_type, command=command,
                        exchanges=outcome.exchanges, fix=fix)
    text = (reply.stderr or reply.stdout).strip()
    return CNIError(None, f"netplugin failed with exit status {reply.rc}", text[-500:], plugin=plugin_type,
                    command=command, exchanges=outcome.exchanges,
                    fix="the plugin printed no error result; its output is in the details")
