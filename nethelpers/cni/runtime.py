"""A CNI runtime in the spirit of libcni: it executes plugins for ADD, CHECK, DEL, GC, STATUS, VERSION.

The plugins run in a lab node playing the Kubernetes node (``host``), the way kubelet's
container runtime runs them: the parameters in ``CNI_*`` environment variables, the
plugin's configuration on stdin (with ``name``, ``cniVersion``, ``prevResult`` and
``runtimeConfig`` injected, ``capabilities`` removed), the result or the error on stdout.
A container is a lab node; its namespace is ``/run/netns/<node>`` (``CNI_NETNS``).

Lab defaults, said once here: plugins are looked up in ``/usr/lib/cni`` (Debian, Ubuntu),
``/usr/libexec/cni`` (Fedora), ``/opt/cni/bin`` (:data:`plugindirs.PLUGIN_DIRS`) and
``PLUGIN_DIR`` (the course's own plugins); results are cached in the sandbox's
``/run/nethelpers/cni/results``; a host-local ``ipam`` without ``dataDir`` gets
``/run/nethelpers/cni/networks`` (libcni's default ``/var/lib/cni/networks`` would be on
the machine). Every call made to a plugin is kept as an :class:`Exchange`.

Example::

    runtime = Runtime(lab, "host")
    net = {"cniVersion": "1.0.0", "name": "pods", "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True,
         "ipam": {"type": "host-local", "subnet": "10.22.0.0/24"}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}
    added = runtime.add(net, "pod1", capability_args={"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
    added.result["ips"][0]["address"]          # '10.22.0.2/24'
    runtime.delete(net, "pod1")                # portmap then bridge; again: still fine

How each plugin is executed, and the version negotiated, is in :mod:`nethelpers.cni.invoke`.
"""

from __future__ import annotations

import os

from ..errors import LabError
from ..i18n import _
from . import cache, result as result_schema
from .config import SPEC_VERSION, check_name, load, version_key
from .errors import CNIError
from .exchange import Outcome
from .invoke import Invoker
from .params import attachment_ref, check_ifname, cni_args
from .plugindirs import PLUGIN_DIRS

PLUGIN_DIR = os.path.join(os.path.dirname(__file__), "plugins")
SYSTEM_DIRS = PLUGIN_DIRS   # where distributions install the reference plugins


class Runtime(Invoker):
    """Executes network configurations against containers of a lab, as libcni does.

    Args:
        lab: the lab.
        host: the node that plays the machine the runtime runs on (name or Node).
        plugin_dirs: more directories to search after ``/usr/lib/cni``, ``/usr/libexec/cni``,
            ``/opt/cni/bin`` and ``PLUGIN_DIR`` (``CNI_PATH`` lists them all).
        negotiate: pick the highest version offered by the configuration that every plugin
            of the list and every IPAM plugin it names support (asked with VERSION, spec
            section 1 "Version considerations");
            False sends the configuration's highest version as it is.
        timeout: seconds a plugin may run.
    """

    def __init__(self, lab, host="host", *, plugin_dirs: tuple[str, ...] = (), negotiate: bool = True,
                 timeout: float = 30) -> None:
        self.lab = lab
        self.host = lab.node(host) if isinstance(host, str) else host
        self.path = [*SYSTEM_DIRS, PLUGIN_DIR, *plugin_dirs]
        self.negotiate = negotiate
        self.timeout = timeout
        self._versions: dict[str, dict] = {}

    # --- attachments: ADD, CHECK, DEL -------------------------------------------------
    def add(self, config, container, *, ifname: str = "eth0", container_id: str | None = None,
            args=None, capability_args: dict | None = None, cleanup: bool = True) -> Outcome:
        """ADD: execute every plugin in order, each given the previous one's result; cache the last.

        Args:
            config: a .conflist/.conf path, JSON text, dict or NetworkConfigList.
            container: the container's node (name or Node); ``CNI_NETNS=/run/netns/<node>``.
            container_id: ``CNI_CONTAINERID`` (default: the node's name).
            args: ``CNI_ARGS``, as {"K": "V"} or "K=V;K2=V2".
            capability_args: e.g. {"portMappings": [...]}; each plugin gets, in ``runtimeConfig``,
                those its ``capabilities`` declare.
            cleanup: on failure, DEL the whole attachment (every plugin, in reverse, no
                ``prevResult``) before raising, as the spec requires of a runtime after a failed
                ADD, so the lab is left as it was.

        Returns:
            An Outcome whose ``result`` is the final result.

        Raises:
            CNIError: a plugin failed (code, msg, details as it printed them), or the input is invalid.
        """
        conf = load(config)
        cid, netns, ifname = self._attachment(container, container_id, ifname, must_exist=True)
        args_text = cni_args(args)
        outcome = Outcome("ADD", conf.name, "", cid, ifname)
        record = cache.load(self.host, conf.name, cid, ifname)
        if record is not None:
            raise CNIError(None, f"{cid}/{ifname} is already attached to network {conf.name!r}",
                           fix="a runtime must not ADD twice without a DEL in between (spec, ADD): "
                               "delete it first")
        outcome.cni_version = self._negotiate(conf, outcome)
        prev, done = None, 0
        try:
            for plugin in conf.plugins:
                request = self._request(conf, plugin, outcome.cni_version, prev, capability_args or {})
                prev = self._exec(plugin["type"], "ADD", request, outcome, cid, netns, ifname, args_text)
                done += 1
                found = result_schema.problems(prev, outcome.cni_version)
                if found:
                    raise CNIError(6, "invalid result", "; ".join(found), plugin=plugin["type"], command="ADD",
                                   exchanges=outcome.exchanges,
                                   fix="the plugin's output does not follow SPEC 1.1.0 section 5")
        except CNIError as error:
            if cleanup and done:
                self._undo_add(conf, outcome, cid, netns, ifname, args_text, capability_args or {})
            error.exchanges = outcome.exchanges
            raise
        outcome.result = prev
        cache.save(self.host, cache.record(container_id=cid, config=conf.raw, ifname=ifname, network=conf.name,
                                           netns=netns, cni_args=args_text, capability_args=capability_args or {},
                                           result=prev))
        return outcome

    def check(self, config, container, *, ifname: str = "eth0", container_id: str | None = None,
              args=None, capability_args: dict | None = None) -> Outcome:
        """CHECK: every plugin in order, each given the cached ADD result as ``prevResult``.

        Returns at once when the list sets ``disableCheck`` (see ``notes``). Arguments left
        out are those of the ADD (the spec wants the same parameters).
        """
        conf = load(config)
        cid, netns, ifname = self._attachment(container, container_id, ifname, must_exist=True)
        outcome = Outcome("CHECK", conf.name, "", cid, ifname)
        if conf.disable_check:
            outcome.cni_version = conf.cni_version
            outcome.notes.append(_("disableCheck is true: CHECK is not called, and succeeds (spec, CHECK)"))
            return outcome
        record = cache.load(self.host, conf.name, cid, ifname)
        if record is None:
            raise CNIError(3, f"{cid}/{ifname} is not attached to network {conf.name!r}",
                           "there is no cached ADD result for it",
                           fix="a runtime must not CHECK what it has not ADDed (spec, CHECK): add it first")
        outcome.cni_version = self._negotiate(conf, outcome)
        if version_key(outcome.cni_version) < (0, 4, 0):
            raise CNIError(1, f"configuration version {outcome.cni_version!r} does not support the CHECK command",
                           fix='CHECK came with 0.4.0: set "cniVersion" to "0.4.0" or later')
        args_text = cni_args(args) if args is not None else cache.cni_args_of(record)
        caps = capability_args if capability_args is not None else record.get("capabilityArgs", {})
        for plugin in conf.plugins:
            request = self._request(conf, plugin, outcome.cni_version, record.get("result"), caps)
            self._exec(plugin["type"], "CHECK", request, outcome, cid, netns, ifname, args_text)
        return outcome

    def delete(self, config, container, *, ifname: str = "eth0", container_id: str | None = None,
               args=None, capability_args: dict | None = None) -> Outcome:
        """DEL: every plugin in reverse order, each given the cached ADD result; then drop the cache.

        Idempotent, as the spec requires of plugins: a second DEL (no cached result any more)
        runs the plugins again without ``prevResult`` and they succeed. The container's node
        may be gone already. Arguments left out are those of the ADD.
        """
        conf = load(config)
        cid, netns, ifname = self._attachment(container, container_id, ifname, must_exist=False)
        outcome = Outcome("DEL", conf.name, "", cid, ifname)
        outcome.cni_version = self._negotiate(conf, outcome)
        record = cache.load(self.host, conf.name, cid, ifname) or {}
        if not record:
            outcome.notes.append(_("no cached ADD result: plugins get no prevResult"))
        args_text = cni_args(args) if args is not None else cache.cni_args_of(record)
        caps = capability_args if capability_args is not None else record.get("capabilityArgs", {})
        self._delete(conf, outcome, cid, netns, ifname, args_text, caps, record.get("result"))
        return outcome

    # --- network-wide: GC, STATUS, VERSION ---------------------------------------------
    def gc(self, config, valid=None) -> Outcome:
        """GC: DEL every cached attachment of the network not in ``valid``, then GC each plugin.

        Args:
            valid: the attachments still in use, as (container ID, ifname) pairs or
                {"containerID", "ifname"} dicts. None (what ``cnitool gc`` sends) treats every
                cached attachment as stale and gives plugins no list.

        The plugins get ``GC`` only when the version in use is 1.1.0 or later (libcni does the
        same), with ``cni.dev/valid-attachments`` (and ``cni.dev/attachments``, the spec's
        spelling). Errors do not stop it; they are raised together at the end (``errors``).
        """
        conf = load(config)
        outcome = Outcome("GC", conf.name, conf.cni_version)
        if conf.disable_gc:
            outcome.notes.append(_("disableGC is true: nothing is collected"))
            return outcome
        wanted = None if valid is None else [attachment_ref(item) for item in valid]
        keep = {(a["containerID"], a["ifname"]) for a in wanted or []}
        errors: list[CNIError] = []
        outcome.cni_version = self._negotiate(conf, outcome)
        for record in cache.attachments(self.host, conf.name):
            if (record["containerId"], record["ifName"]) in keep:
                continue
            outcome.notes.append(_("stale attachment {container}/{ifname}: DEL").format(
                container=record["containerId"], ifname=record["ifName"]))
            try:
                self._delete(conf, outcome, record["containerId"], record.get("netns", ""), record["ifName"],
                             cache.cni_args_of(record), record.get("capabilityArgs", {}), record.get("result"))
            except CNIError as error:
                errors.append(error)
        if version_key(outcome.cni_version) < (1, 1, 0):
            outcome.notes.append(_("version {version} has no GC command: plugins not asked").format(
                version=outcome.cni_version))
        else:
            for plugin in conf.plugins:
                request = self._request(conf, plugin, outcome.cni_version)
                if wanted is not None:
                    request["cni.dev/valid-attachments"] = wanted
                    request["cni.dev/attachments"] = wanted
                try:
                    self._exec(plugin["type"], "GC", request, outcome)
                except CNIError as error:
                    errors.append(error)
        if errors:
            first = errors[0]
            raise CNIError(first.code, f"GC of network {conf.name!r} had {len(errors)} error(s)",
                           " | ".join(str(e) for e in errors), exchanges=outcome.exchanges, errors=errors,
                           fix="GC went on after each error (spec, GC); fix the causes and run it again")
        return outcome

    def status(self, config) -> Outcome:
        """STATUS: ask each plugin whether it can ADD now; the first error is raised (code 50/51).

        With a version before 1.1.0 no plugin knows STATUS: it succeeds without asking
        (libcni does the same; see ``notes``).
        """
        conf = load(config)
        outcome = Outcome("STATUS", conf.name, conf.cni_version)
        outcome.cni_version = self._negotiate(conf, outcome)
        if version_key(outcome.cni_version) < (1, 1, 0):
            outcome.notes.append(_("version {version} has no STATUS command: plugins not asked").format(
                version=outcome.cni_version))
            return outcome
        for plugin in conf.plugins:
            self._exec(plugin["type"], "STATUS", self._request(conf, plugin, outcome.cni_version), outcome)
        return outcome

    def version(self, plugin_type: str, cni_version: str = SPEC_VERSION) -> dict:
        """VERSION: the plugin's ``{"cniVersion", "supportedVersions"}``."""
        outcome = Outcome("VERSION", "", cni_version)
        return self._version(plugin_type, cni_version, outcome)

    # --- the cache ---------------------------------------------------------------------
    def cached(self, config, container, *, ifname: str = "eth0", container_id: str | None = None) -> dict | None:
        """The cached ADD result of an attachment (None when it is not attached)."""
        conf = load(config)
        cid, _, ifname = self._attachment(container, container_id, ifname, must_exist=False)
        record = cache.load(self.host, conf.name, cid, ifname)
        return None if record is None else record.get("result")

    def attachments(self, network: str | None = None) -> list[dict]:
        """The cached attachments (libcni ``GetCachedAttachments``): containerId, ifName, netns, ..."""
        return cache.attachments(self.host, network)

    def _delete(self, conf, outcome, cid, netns, ifname, args_text, caps, prev) -> None:
        if version_key(outcome.cni_version) < (0, 4, 0):
            prev = None    # prevResult on DEL came with 0.4.0
        for plugin in reversed(conf.plugins):
            self._del_one(conf, plugin, outcome, cid, netns, ifname, args_text, caps, prev)
        cache.remove(self.host, conf.name, cid, ifname)

    def _del_one(self, conf, plugin, outcome, cid, netns, ifname, args_text, caps, prev) -> None:
        request = self._request(conf, plugin, outcome.cni_version, prev, caps)
        self._exec(plugin["type"], "DEL", request, outcome, cid, netns, ifname, args_text)

    def _undo_add(self, conf, outcome, cid, netns, ifname, args_text, caps) -> None:
        """After a failed ADD, the DEL of the whole attachment the spec requires ("A delete must
        still be executed even if the add fails", SPEC 1.1.0 Lifecycle & Ordering): every plugin,
        last first, the failed one and those never reached included, with no ``prevResult``
        (nothing was cached: libcni's DelNetworkList then passes none).

        libcni stops at the first DEL that fails and the runtime tries again later; the lab goes
        on with the other plugins instead (noted), so that a bad configuration leaves nothing."""
        outcome.notes.append(_("ADD failed: DEL sent to {plugins}").format(
            plugins=", ".join(p["type"] for p in reversed(conf.plugins))))
        for plugin in reversed(conf.plugins):
            try:
                self._del_one(conf, plugin, outcome, cid, netns, ifname, args_text, caps, None)
            except (CNIError, LabError) as error:
                outcome.notes.append(_("the DEL of {plugin} failed too ({error}); libcni would stop "
                                       "here, the lab DELs the others so that nothing is left").format(
                    plugin=plugin["type"], error=error))

    def _attachment(self, container, container_id, ifname, *, must_exist: bool) -> tuple[str, str, str]:
        """(CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME), checked as libcni checks them."""
        name = getattr(container, "name", container)
        if not isinstance(name, str) or not name:
            raise CNIError(4, "invalid CNI_NETNS", repr(container),
                           fix="give the container's node (a Node or its name)")
        if must_exist:
            self.lab.node(name)   # NotFound names the nodes there are
        cid = check_name(name if container_id is None else container_id, "containerID", code=4)
        check_ifname(ifname)
        return cid, f"/run/netns/{name}", ifname
