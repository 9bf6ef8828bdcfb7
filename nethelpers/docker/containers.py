"""Containers of a Docker host: ``run`` (and its network modes), ``exec``, ``stop``, ``start``,
``restart``, ``logs``, ``rm``, and what the daemon does when a container's command ends.

A mixin of :class:`~nethelpers.docker.daemon.DockerHost`. A container is a lab node (its
namespace) with a CNM sandbox of the host's controller; ``--network host`` uses the host's
own namespace (libnetwork's default sandbox), ``container:NAME`` another container's.
"""

from __future__ import annotations

import re

from ..errors import AlreadyExists, LabError
from ..node import Node
from . import capabilities, etc_files, images, ipam_config, netinfo
from .errors import DaemonError, DockerError
from .model import Container, EndpointConfig, PortSpec
from .naming import make_id, now, random_name

VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")  # Docker's container names


class Containers:
    """The container side of :class:`DockerHost` (a mixin)."""

    def _in(self, ctr: Container) -> Node:
        """The node a container's processes run in. The engine made it, so no lookup
        (``lab.node()`` asks the sandbox for its node list every time)."""
        return Node(self.lab, ctr.node)

    def container(self, ref: str) -> Container:
        """A container by name, full ID or ID prefix."""
        self._reap()
        ref = ref.lstrip("/")
        for c in self.containers.values():
            if c.name == ref or c.id == ref:
                return c
        matches = [c for c in self.containers.values() if c.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise DaemonError(f"No such container: {ref}")

    # --- run ----------------------------------------------------------------------------------
    def run(self, image_ref: str, command: list[str], *, name: str | None = None, detach: bool = False,
            network: str | None = None, publish: list[PortSpec] = (), ip: str | None = None,
            auto_remove: bool = False, aliases: list[str] = (), keep_open: bool = False,
            hostname: str | None = None, dns: list[str] = (), mac_address: str | None = None,
            env: list[str] = (), cap_add: list[str] = (), cap_drop: list[str] = (),
            privileged: bool = False, labels: dict | None = None) -> tuple[Container, str]:
        """``docker run``: returns the container and what the CLI prints."""
        self._reap()
        image, tag = images.parse(image_ref)
        capabilities.validate(list(cap_add), list(cap_drop))
        if command and not images.has(image, command[0]):
            raise DaemonError(self._create_task_failed(command[0]))
        mode = network or "bridge"
        net, owner = self._network_mode(mode, publish=publish, ip=ip, aliases=aliases, hostname=hostname,
                                        dns=dns, mac_address=mac_address)
        warnings = ""
        if mode == "host" and publish:  # kept in HostConfig.PortBindings, never mapped
            warnings = "WARNING: Published ports are discarded when using host network mode\n"
        name = self._new_name(name)
        if command:
            shown, argv = list(command), list(command)
        else:
            shown, argv = images.default_command(image, name, keep_open)
        if env:  # -e NAME=VALUE: the command runs under `env`, image default or not
            argv = ["env", *env, *argv]
        if not detach and not command and argv[-2:] == ["sleep", "infinity"]:
            raise DockerError("the lab cannot attach a terminal to a container: run it with -d "
                              "(e.g. docker run -dit ...) and use docker exec")
        if ip is not None and net is not None:
            ipam_config.check_endpoint_ip(net, ip)
        cid = make_id(self.name, "container", name, len(self.containers))
        node = self.name if mode == "host" else owner.node if owner else name
        ctr = Container(cid, name, image, tag, shown, node=node, created=now(),
                        network_mode=f"container:{owner.id}" if owner else net.name, detached=detach,
                        auto_remove=auto_remove, publish=list(publish),
                        hostname=(owner.hostname or owner.id[:12]) if owner else self.name if mode == "host"
                        else hostname, dns=list(dns),
                        mac_address=mac_address, joined=owner.id if owner else None,
                        argv=list(argv), default_command=not command, started=None,
                        cap_add=list(cap_add), cap_drop=list(cap_drop), privileged=privileged,
                        labels=dict(labels or {}))
        if net is not None:
            ctr.endpoint_config[net.name] = EndpointConfig(ip, tuple(aliases))
        self.containers[name] = ctr
        try:
            self._plumb(ctr, net, ip=ip, aliases=list(aliases), own_node=node == name)
        except AlreadyExists:
            self.containers.pop(name, None)
            if node == name:
                self._name_taken(name)
            raise
        except BaseException:
            self.containers.pop(name, None)
            raise
        try:
            if detach:
                return ctr, warnings + self._start(ctr, argv, command) + "\n"
            result = self._in(ctr).run(self._confined(ctr, argv), timeout=60)
        except BaseException:
            self._destroy(ctr)
            raise
        ctr.exited(result.rc, now())
        ctr.earlier_logs = result.output
        if auto_remove:
            self._destroy(ctr)
        else:
            self._release(ctr)
        return ctr, warnings + result.output

    def _plumb(self, ctr: Container, net, *, ip, aliases: list[str], own_node: bool) -> None:
        """Its namespace, /etc files, sandbox and first endpoint, in one request to the lab; then
        what the embedded DNS and the cluster must learn."""
        from .daemon import daemon_errors

        def refused() -> None:  # the lab undid the whole request: forget what it was to make
            self._drop_sandbox(ctr, remove_node=False)

        with daemon_errors(), self.kernel.batch(on_refused=refused):
            if ctr.joined is None:
                ctr.sandbox = self.controller.new_sandbox(ctr.id, node=ctr.node, use_default_sandbox=not own_node)
                if net.type != "host":
                    ctr.sandbox.port_bindings = [spec.binding() for spec in ctr.publish]
            if own_node:
                node = self._in(ctr)
                node.write_etc("hostname", etc_files.hostname(ctr))
                if not netinfo.user_defined(net):
                    node.write_etc("resolv.conf", etc_files.resolv_conf(ctr, embedded=False))
            ep = None
            if net is not None:
                try:
                    ep = self._plumb_endpoint(ctr, net, ip=ip, aliases=aliases)
                except BaseException:
                    self._drop_sandbox(ctr, remove_node=True)
                    raise
            if own_node:
                self._in(ctr).write_etc("hosts", etc_files.hosts(ctr))
        if ep is not None:
            try:
                self._announce(ctr, ep)
            except BaseException:
                self._destroy(ctr)
                raise

    def _confined(self, ctr: Container, argv: list[str], privileged: bool = False) -> list[str]:
        """``argv`` with the container's capabilities only (all with ``exec --privileged``)."""
        caps = capabilities.effective(ctr.cap_add, ctr.cap_drop, ctr.privileged or privileged)
        return capabilities.confine(argv, caps)

    def _start(self, ctr: Container, argv: list[str], command: list[str]) -> str:
        ctr.process = self._in(ctr).start(self._confined(ctr, argv))
        ctr.started = now()
        if not command and ctr.image in images.WEB_IMAGES:
            # nginx is up in milliseconds, the lab's Python server takes longer: wait until it
            # listens or gives up (port taken: it exits, and `docker logs` says why, as nginx's would)
            try:
                ctr.process.wait_for("serving", timeout=15)
            except LabError:
                if ctr.process.running:
                    self._destroy(ctr)
                    raise DaemonError(f"{ctr.image} in container {ctr.name} did not start within 15 s") from None
        return ctr.id

    def _network_mode(self, mode: str, *, publish, ip, aliases, hostname, dns, mac_address):
        """The network a new container joins, or the container whose namespace it shares.

        Refuses what Docker refuses for that mode (runconfig's validateNetContainerMode)."""
        if mode.startswith("container:") or mode == "container":
            ref = mode.partition(":")[2]
            if not ref:
                raise DaemonError("Invalid network mode: invalid container format container:<name|id>")
            for given, error in ((hostname, "conflicting options: hostname and the network mode"),
                                 (dns, "conflicting options: dns and the network mode"),
                                 (publish, "conflicting options: port publishing and the container type "
                                           "network mode"),
                                 (mac_address, "conflicting options: mac-address and the network mode"),
                                 (ip, "user specified IP address is supported on user defined networks only"),
                                 (aliases, "network-scoped alias is supported only for containers in user "
                                           "defined networks")):
                if given:
                    raise DaemonError(error)
            owner = self.container(ref)  # (joining a joiner shares the same namespace: its node)
            self._check_owner_running(owner)
            return None, owner
        net = self._find_network(mode, attach=True)
        if ip is not None and not netinfo.user_defined(net):
            raise DaemonError("user specified IP address is supported on user defined networks only")
        if ip is not None and not net.user_configured:
            raise DaemonError("user specified IP address is supported only when connecting to networks "
                              "with user configured subnets")
        if aliases and not netinfo.user_defined(net):
            raise DaemonError("network-scoped alias is supported only for containers in user defined networks")
        if mac_address and net.type in ("host", "null"):
            raise DaemonError("conflicting options: mac-address and the network mode")
        return net, None

    def _create_task_failed(self, program: str) -> str:
        """What the daemon answers when the image has no ``program``: containerd's and runc's
        words around Go's exec.LookPath error (runc 1.2+ on Docker 29 says where it failed)."""
        where = "error during container init: " if self.engine.major >= 29 else ""
        return (f"failed to create task for container: failed to create shim task: OCI runtime create failed: "
                f"runc create failed: unable to start container process: {where}{images.not_found(program)}: "
                f"unknown")

    def _check_owner_running(self, owner: Container) -> None:
        """getNetworkedContainer: a namespace is joined only while its owner runs (moby v27.5.1 and
        docker-v29.7.2 daemon/container_operations.go, worded differently)."""
        if owner.running:
            return
        if self.engine.major >= 29:
            raise DaemonError(f"cannot join network namespace of a non running container: container "
                              f"{owner.name} is exited")
        raise DaemonError(f"cannot join network of a non running container: {owner.id}")

    def _new_name(self, name: str | None) -> str:
        if name is not None and not VALID_NAME.match(name):
            raise DaemonError(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if name is None:
            return random_name(f"{self.name}/{len(self.containers)}", set(self.containers))
        if name in self.containers:
            raise DaemonError(f'Conflict. The container name "/{name}" is already in use by container '
                              f'"{self.containers[name].id}". You have to remove (or rename) that container '
                              f'to be able to reuse that name.')
        return name

    def _name_taken(self, name: str) -> None:
        """After the lab refused to make node ``name`` for a new container: why, when a node of the
        lab has that name (asked only then: it costs a request)."""
        if name not in {n.name for n in self.lab.nodes()}:
            return
        users = sorted(c.name for c in self.containers.values() if c.node == name)
        if users:
            raise DockerError(f"the namespace of the removed container {name!r} lives on while "
                              f"{', '.join(users)} use it (container:{name}), and in the lab a namespace "
                              f"is named after its container: remove those first, or choose another --name "
                              f"(Docker would allow the name)")
        raise DockerError(f"the lab already has a node called {name!r}; container names are lab-wide "
                          f"here (each container is a node): choose another --name")

    # --- exec / stop / logs / rm ----------------------------------------------------------------
    def exec(self, ctr_ref: str, command: list[str], *, detach: bool = False,
             privileged: bool = False, env: list[str] = ()) -> tuple[str, int]:
        """``docker exec``: (what it printed, its exit status), with the container's capabilities
        (all of them with ``--privileged``) and ``env`` (``-e NAME=VALUE``) added."""
        ctr = self.container(ctr_ref)
        if not ctr.running:
            raise DaemonError(f"container {ctr.id} is not running")
        if command and not images.has(ctr.image, command[0]):
            # the exec starts and fails: the CLI prints the runtime's error, the exit status is
            # 126 (moby daemon/exec.go ContainerExecStart: exitEaccess when it did not start)
            error = DockerError(f"OCI runtime exec failed: exec failed: unable to start container process: "
                                f"{images.not_found(command[0])}: unknown")
            error.exit_code = 126
            raise error
        if env:
            command = ["env", *env, *command]
        if ctr.resolver and any(ep.network.type == "overlay" for ep in ctr.endpoints.values()):
            # names on an overlay come and go with other hosts (the agent's table): answer with the latest
            self._in(ctr).set_resolver_records(self.dns_view(ctr))
        node, command = self._in(ctr), self._confined(ctr, command, privileged)
        if detach:
            node.start(command)
            return "", 0
        result = node.run(command, timeout=60)
        return result.output, result.rc

    def stop(self, ref: str) -> str:
        """``docker stop``: the main command gets SIGTERM; the container gives its network back."""
        ctr = self.container(ref)
        if ctr.running:
            ctr.process.stop()
            if ctr.default_command and ctr.image in images.SHELL_IMAGES:
                # a shell as PID 1 ignores SIGTERM: Docker waits 10 s, then SIGKILL (128 + 9)
                ctr.exit_code = 137
            self._reap()
        return ref

    def start(self, ref: str) -> str:
        """``docker start``: a stopped container runs its command again, in a new network
        namespace with new endpoints on the networks it keeps (daemon/start.go containerStart,
        allocateNetwork); a running one is left as it is (validateState's NotModified, a 304 the
        CLI takes as success)."""
        ctr = self.container(ref)
        if ctr.running:
            return ref
        if ctr.joined is not None:
            owner = self._by_id(ctr.joined)
            if owner is None:
                raise DaemonError(f"No such container: {ctr.joined}")
            self._check_owner_running(owner)
        else:
            self._fresh_namespace(ctr)
            self._allocate_networks(ctr)
        ctr.earlier_logs += ctr.process.output if ctr.process is not None else ""
        ctr.last_finished, ctr.finished, ctr.exit_code = ctr.finished, None, None
        try:
            self._start(ctr, ctr.argv, [] if ctr.default_command else ctr.shown_command)
        except BaseException:
            self._release(ctr)
            raise
        return ref

    def restart(self, ref: str) -> str:
        """``docker restart``: stop it if it runs, then start it (daemon/restart.go)."""
        ctr = self.container(ref)
        if ctr.running:
            self._check_no_joiners(ctr)  # before it stops: the lab could not start it again
            self.stop(ref)
        return self.start(ref)

    def _fresh_namespace(self, ctr: Container) -> None:
        """The old namespace of a container with its own goes before it starts again: Docker gives
        every start a new one. In the lab a namespace is named after its container, so it cannot
        while a ``container:`` joiner still runs in the old one."""
        if ctr.node != ctr.name:
            return
        self._check_no_joiners(ctr)
        if ctr.node in {n.name for n in self.lab.nodes()}:
            self.lab.remove_node(ctr.node)

    def _check_no_joiners(self, ctr: Container) -> None:
        if ctr.node != ctr.name:
            return
        joiners = sorted(c.name for c in self.containers.values() if c is not ctr and c.node == ctr.node
                         and c.running)
        if joiners:
            raise DockerError(f"{', '.join(joiners)} still run{'s' if len(joiners) == 1 else ''} in {ctr.name}'s "
                              f"old network namespace (--network container:{ctr.name}); Docker would start "
                              f"{ctr.name} in a new namespace and leave them in the old one with lo only, but "
                              f"the lab names a namespace after its container: stop them first (docker stop "
                              f"{' '.join(joiners)})")

    def _allocate_networks(self, ctr: Container) -> None:
        """allocateNetwork: a sandbox, then an endpoint on each network it keeps, with the address
        and aliases it was given (IPAM picks a free address again where none was)."""
        given = list(ctr.endpoint_config.items())
        first = self._find_network(given[0][0], attach=True) if given else None
        config = given[0][1] if given else EndpointConfig()
        if config.ip is not None and first is not None:
            ipam_config.check_endpoint_ip(first, config.ip)
        self._plumb(ctr, first, ip=config.ip, aliases=list(config.aliases), own_node=ctr.node == ctr.name)
        try:
            for name, config in given[1:]:
                self._attach(ctr, self._find_network(name, attach=True), ip=config.ip,
                             aliases=list(config.aliases), gw_priority=config.gw_priority)
        except BaseException:
            self._release(ctr)
            raise

    def logs(self, ref: str) -> str:
        """``docker logs``: what the main command printed (stdout and stderr together), on every
        run since the container was made."""
        ctr = self.container(ref)
        return ctr.earlier_logs + (ctr.process.output if ctr.process is not None else "")

    def remove(self, ref: str, *, force: bool = False) -> str:
        ctr = self.container(ref)
        if ctr.running and not force:
            raise DaemonError(f'cannot remove container "/{ctr.name}": container is running: '
                              f'stop the container before removing or force remove')
        self._destroy(ctr)
        return ref

    def _destroy(self, ctr: Container) -> None:
        if ctr.process is not None:
            ctr.process.stop()
        # containers that joined this one's namespace (container:NAME) keep it, with lo only
        shared = ctr.node == self.name or any(c.node == ctr.node for c in self.containers.values() if c is not ctr)
        self.containers.pop(ctr.name, None)
        own_node = not shared and ctr.node in {n.name for n in self.lab.nodes()}
        if ctr.sandbox is not None:
            self._drop_sandbox(ctr, remove_node=own_node)
        elif own_node:
            self.lab.remove_node(ctr.node)  # its veths go with it; the sandbox closes its DNS sockets

    def _drop_sandbox(self, ctr: Container, *, remove_node: bool) -> None:
        """sandbox.Delete: every endpoint leaves and is deleted, then (``remove_node``) the namespace;
        the embedded DNS of the others forgets it."""
        from .daemon import daemon_errors

        if ctr.sandbox is None:
            return
        sandbox, networks = ctr.sandbox, [ep.network for ep in ctr.endpoints.values()]
        overlay_eps = [ep for ep in ctr.endpoints.values() if ep.network.type == "overlay"]
        with daemon_errors(), self.kernel.batch():
            sandbox.delete(remove_node=remove_node)
        ctr.sandbox = None
        if ctr.resolver and not remove_node:
            self._in(ctr).stop_resolver()
        ctr.resolver = False
        for ep in overlay_eps:
            self._spread(ep.network, ep, present=False)
            if not ep.network.endpoints and self._forgets(ep.network):
                self.networks.pop(ep.network.name, None)
        for net in networks:
            if netinfo.user_defined(net) and net.name in self.networks:
                self._refresh_dns(net)

    def _reap(self) -> None:
        """Containers whose command has ended give their network back (their endpoints
        leave, ports and addresses are freed); ``--rm`` ones are removed, as dockerd does."""
        watched = [c for c in self.containers.values() if c.process is not None and c.finished is None]
        ended = self.lab.exited([c.process for c in watched])  # one request for them all
        for ctr in watched:
            if ctr.process.id not in ended:
                continue
            ctr.ended(ended[ctr.process.id])
            ctr.exited(ctr.exit_code, now())
            if ctr.auto_remove:
                self._destroy(ctr)
            else:
                self._release(ctr)

    def _release(self, ctr: Container) -> None:
        if ctr.sandbox is not None:
            self._drop_sandbox(ctr, remove_node=False)
