"""Loading a network configuration (.conflist or .conf, a file, JSON text or a dict), as libcni does.

SPEC 1.1.0 section 1: ``cniVersion``, ``cniVersions``, ``name``, ``disableCheck``,
``disableGC``, ``plugins[]`` (each with a ``type``). A single-plugin ``.conf`` becomes a
list of one, like libcni's ``ConfListFromConf``. The versions offered are kept sorted;
the runtime picks the highest one it and the plugins support.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field

from .errors import CNIError

#: The spec version this runtime implements.
SPEC_VERSION = "1.1.0"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def version_key(text: str) -> tuple[int, int, int]:
    """"1.0.0" -> (1, 0, 0), to compare versions."""
    if not isinstance(text, str) or not _SEMVER.match(text):
        raise CNIError(7, "invalid network config", f"{text!r} is not a version like \"1.1.0\"",
                       fix='write versions as three numbers, e.g. "cniVersion": "1.0.0"')
    return tuple(int(part) for part in text.split("."))


def check_name(name, what: str = "network name", code: int = 7) -> str:
    """A network name or container ID: alphanumeric first, then alphanumerics, ``_ . -`` (libcni)."""
    if not isinstance(name, str) or not name:
        missing = 3 if what == "containerID" else code   # libcni: a missing container ID is "unknown"
        raise CNIError(missing, f"missing {what}", "", fix=f"give a {what}, e.g. \"mynet\"")
    if not _NAME.match(name):
        words = "in" if what == "containerID" else "found in"     # libcni's two wordings
        raise CNIError(code, f"invalid characters {words} {what}", name,
                       fix="start with a letter or digit, then use only letters, digits, '_', '.', '-'")
    return name


@dataclass
class NetworkConfigList:
    """A network configuration list: what the runtime executes, plugin by plugin."""

    name: str
    cni_version: str                     # the highest version offered (cniVersion + cniVersions)
    plugins: list[dict]
    versions: list[str] = field(default_factory=list)   # every version offered, highest first
    disable_check: bool = False
    disable_gc: bool = False
    raw: dict = field(default_factory=dict)              # the configuration as loaded

    @property
    def types(self) -> list[str]:
        return [plugin["type"] for plugin in self.plugins]


def load(source) -> NetworkConfigList:
    """Load a network configuration from a dict, JSON text, or a path to a .conflist/.conf/.json.

    Raises:
        CNIError: code 6 when it is not JSON, code 7 when a required key is wrong or missing.
    """
    if isinstance(source, NetworkConfigList):
        return source
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
    elif isinstance(source, (str, os.PathLike)):
        text = str(source)
        if not text.lstrip().startswith("{"):
            try:
                with open(text, encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                raise CNIError(5, f"error reading {source}", exc.strerror or str(exc),
                               fix="give the path of a .conflist or .conf file, JSON text or a dict") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CNIError(6, "error parsing configuration", str(exc),
                           fix="the network configuration must be one JSON object") from None
    else:
        raise CNIError(7, "invalid network config", f"got a {type(source).__name__}",
                       fix="give a dict, JSON text or the path of a .conflist/.conf file")
    if not isinstance(raw, dict):
        raise CNIError(6, "error parsing configuration", "not a JSON object",
                       fix="the network configuration must be one JSON object")
    if "plugins" not in raw:
        raw = _list_from_conf(raw)
    return _from_raw(raw)


def _list_from_conf(conf: dict) -> dict:
    """A single-plugin .conf as a list of one (libcni ConfListFromConf)."""
    if "type" not in conf:
        raise CNIError(7, "invalid network config", "neither 'plugins' (a .conflist) nor 'type' (a .conf)",
                       fix='a .conflist has "plugins": [...]; a .conf has "type": "bridge"')
    plugin = {k: v for k, v in conf.items() if k not in ("name", "cniVersion")}
    raw = {"name": conf.get("name"), "plugins": [plugin]}
    if "cniVersion" in conf:
        raw["cniVersion"] = conf["cniVersion"]
    return raw


def _from_raw(raw: dict) -> NetworkConfigList:
    name = check_name(raw.get("name"))
    offered = []
    if "cniVersion" in raw:
        version_key(raw["cniVersion"])
        offered.append(raw["cniVersion"])
    extra = raw.get("cniVersions", [])
    if not isinstance(extra, list):
        raise CNIError(7, "invalid network config", f"cniVersions is a {type(extra).__name__}",
                       fix='write "cniVersions": ["1.0.0", "1.1.0"]')
    for version in extra:
        version_key(version)
        offered.append(version)
    if not offered:
        offered = ["0.1.0"]   # what plugins assume of a config without a version
    supported = sorted({v for v in offered if version_key(v) <= version_key(SPEC_VERSION)},
                       key=version_key, reverse=True)
    if not supported:
        raise CNIError(1, "incompatible CNI versions",
                       f"the configuration offers {offered}; this runtime implements up to {SPEC_VERSION}",
                       fix=f'add "{SPEC_VERSION}" or a lower version to "cniVersions"')
    plugins = raw.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise CNIError(7, "invalid network config", "no plugins in list",
                       fix='give "plugins": [{"type": "bridge", ...}, ...]')
    for i, plugin in enumerate(plugins):
        _check_plugin(i, plugin)
    return NetworkConfigList(name=name, cni_version=supported[0], plugins=copy.deepcopy(plugins),
                             versions=supported, disable_check=_flag(raw, "disableCheck"),
                             disable_gc=_flag(raw, "disableGC"), raw=raw)


def _check_plugin(i: int, plugin) -> None:
    if not isinstance(plugin, dict):
        raise CNIError(7, "invalid network config", f"plugin {i} is not an object",
                       fix='each plugin is an object such as {"type": "loopback"}')
    kind = plugin.get("type")
    if not isinstance(kind, str) or not kind or "/" in kind or "\\" in kind or kind in (".", ".."):
        raise CNIError(7, "invalid network config", f"plugin {i} has type {kind!r}",
                       fix='"type" names the plugin binary, e.g. "bridge" (no slashes)')
    caps = plugin.get("capabilities", {})
    if not isinstance(caps, dict):
        raise CNIError(7, "invalid network config", f"plugin {i} ({kind}) has capabilities {caps!r}",
                       fix='write "capabilities": {"portMappings": true}')


def _flag(raw: dict, key: str) -> bool:
    """disableCheck / disableGC: a boolean, or "true"/"false" as libcni also accepts."""
    value = raw.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise CNIError(7, "invalid network config", f"invalid value {value!r} for {key}",
                   fix=f'write "{key}": true or false')
