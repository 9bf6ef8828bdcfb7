"""A ``kubectl`` subset: the commands a networking chapter needs, printed as kubectl v1.37 prints them.

``get nodes|pods|services|endpointslices|deployments [NAME] [-o wide] [-n NS | -A]``, ``run NAME
--image=IMG [--port=N]`` (a hostPort needs ``apply -f``: kubectl run lost ``--hostport`` with its
generators), ``create deployment NAME --image=IMG [--replicas=N] [--port=N]``,
``scale deployment NAME --replicas=N``, ``expose deployment|pod NAME --port=N [--target-port=N]
[--type=ClusterIP|NodePort] [--name=N] [--session-affinity=ClientIP]``, ``delete pod|deployment|service
NAME``, ``exec POD -- COMMAND...``. What kubectl makes goes in the ``default`` namespace.

Tables as kubectl's printers build them (kubernetes ``pkg/printers/internalversion/printers.go``,
cli-runtime ``tableprinter.go``: upper-case headers, a tabwriter with minimum width 6 and padding 3,
the last column unpadded); messages as its name printer and ``delete`` word them (``pod/web created``,
``pod "web" deleted from default namespace``); errors as ``Error from server (NotFound): pods "x" not
found``.
"""

from __future__ import annotations

import platform
import re
import shlex

from ..docker import images
from ..docker.cli import Output
from ..errors import LabError
from . import dns, kubelet, podnet, proxy
from .cluster import KUBELET_VERSION, Cluster, Deployment, Pod, Service, ServicePortSpec, now, random_suffix

NAMESPACE = "default"
SWITCHES = {"all_namespaces"}     # flags that take no value (-A)
RESOURCES = {"pods": "pods", "pod": "pods", "po": "pods", "nodes": "nodes", "node": "nodes", "no": "nodes",
             "services": "services", "service": "services", "svc": "services", "endpointslices": "endpointslices",
             "endpointslice": "endpointslices", "deployments": "deployments", "deployment": "deployments",
             "deploy": "deployments"}
CONTAINER_RUNTIME = "containerd://2.3.4"


class KubectlError(LabError):
    """What kubectl prints on stderr (it exits 1)."""

    exit_code = 1


DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def check_name(kind: str, name: str) -> str:
    """The API server's name validation: a Service's name is a DNS-1035 label (it becomes a DNS name),
    a Pod's or a Deployment's a DNS-1123 subdomain (apimachinery ``validation.IsDNS1035Label``,
    ``IsDNS1123Subdomain``); the lab's pods also become lab nodes, so at most 63 characters."""
    if kind == "Service":
        ok, rule = DNS1035.fullmatch(name) and len(name) <= 63, (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
            "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
    else:
        ok, rule = DNS1123.fullmatch(name) and len(name) <= 63, (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    if not ok:
        raise KubectlError(f'The {kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": {rule}')
    return name


def not_found(resource: str, name: str) -> KubectlError:
    group = ".apps" if resource == "deployments" else ""
    return KubectlError(f'Error from server (NotFound): {resource}{group} "{name}" not found')


# --- output -----------------------------------------------------------------------------------------
def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def age(created) -> str:
    return human_duration((now() - created).total_seconds())


def table(rows: list[list[str]]) -> str:
    """cli-runtime's tabwriter: each column but the last max(6, widest + 3) wide."""
    widths = [max(6, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    return "".join("".join(c.ljust(w) for c, w in zip(r, widths)) + r[-1] + "\n" for r in rows)


# --- commands ---------------------------------------------------------------------------------------
def run(lab, cluster: Cluster, command: str | list[str], input: str | None = None) -> Output:
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:1] == ["kubectl"]:
        words = words[1:]
    if not words:
        raise KubectlError("error: you must specify a command (the lab's kubectl knows get, run, create "
                           "deployment, scale, expose, delete, exec)")
    verb, rest = words[0], words[1:]
    if verb == "apply":
        return _apply(lab, cluster, rest, input)
    handlers = {"get": _get, "run": _run, "create": _create, "scale": _scale, "expose": _expose,
                "delete": _delete, "exec": _exec, "apply": None}
    if verb not in handlers:
        raise KubectlError(f'error: unknown command "{verb}" for "kubectl" (the lab\'s kubectl knows '
                           f'{", ".join(handlers)})')
    return handlers[verb](lab, cluster, rest)


def _options(words: list[str], known: dict[str, str]) -> tuple[dict, list[str]]:
    """``--name=value`` / ``--name value`` / ``-o wide`` flags; the other words in order."""
    options, args, rest = {}, [], list(words)
    while rest:
        word = rest.pop(0)
        if word == "--":
            args.append("--")
            args.extend(rest)
            break
        if word.startswith("-") and len(word) > 1:
            name, eq, value = word.partition("=")
            key = known.get(name)
            if key is None:
                raise KubectlError(f"error: unknown flag: {name}\nSee 'kubectl --help' for usage.")
            if key in SWITCHES:
                options[key] = value if eq else "true"
                continue
            if not eq:
                if not rest:
                    raise KubectlError(f"error: flag needs an argument: {name}")
                value = rest.pop(0)
            options[key] = value
        else:
            args.append(word)
    return options, args


def _int(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise KubectlError(f'error: invalid argument "{value}" for "{flag}" flag: strconv.ParseInt: parsing '
                           f'"{value}": invalid syntax') from None


def _get(lab, cluster: Cluster, words: list[str]) -> Output:
    options, args = _options(words, {"-o": "output", "--output": "output", "-n": "namespace",
                                     "--namespace": "namespace", "-A": "all_namespaces",
                                     "--all-namespaces": "all_namespaces"})
    namespace = options.get("namespace", NAMESPACE)
    every = options.get("all_namespaces") == "true"
    if not args:
        raise KubectlError("error: you must specify the type of resource to get (the lab's kubectl knows pods, "
                           "nodes, services, endpointslices, deployments)")
    resource = RESOURCES.get(args[0])
    if resource is None:
        raise KubectlError(f'error: the server doesn\'t have a resource type "{args[0]}"')
    wide = options.get("output") == "wide"
    if options.get("output") not in (None, "wide"):
        raise KubectlError(f"error: the lab's kubectl prints tables only (-o wide), not -o {options['output']}")
    table_of = {"pods": _pods, "nodes": _nodes, "services": _services, "endpointslices": _slices,
                "deployments": _deployments}[resource]
    if every and resource != "nodes":
        rows = _every_namespace(cluster, table_of, wide)
    else:
        rows = table_of(cluster, wide, namespace)
    if len(args) > 1:
        if every:
            raise KubectlError("error: a resource cannot be retrieved by name across all namespaces")
        wanted = set(args[1:])
        found = [rows[0]] + [r for r in rows[1:] if r[0] in wanted]
        missing = sorted(wanted - {r[0] for r in found[1:]})
        if missing:
            raise not_found(resource, missing[0])
        rows = found
    if len(rows) == 1:
        return Output.of("" if resource == "nodes" else "No resources found\n" if every
                         else f"No resources found in {namespace} namespace.\n")
    return Output.of(table(rows))


def _every_namespace(cluster: Cluster, table_of, wide: bool) -> list[list[str]]:
    """``-A``: a NAMESPACE column first, the namespaces in order (the API server lists by namespace, then name)."""
    rows = []
    for namespace in sorted({p.namespace for p in cluster.pods.values()} | {k[0] for k in cluster.services}
                            | {k[0] for k in cluster.deployments}):
        found = table_of(cluster, wide, namespace)
        rows = rows or [["NAMESPACE"] + found[0]]
        rows += [[namespace] + row for row in found[1:]]
    return rows or [["NAMESPACE"] + table_of(cluster, wide, NAMESPACE)[0]]


def _pods(cluster: Cluster, wide: bool, namespace: str) -> list[list[str]]:
    rows = [["NAME", "READY", "STATUS", "RESTARTS", "AGE"] + (["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
                                                             if wide else [])]
    for pod in sorted(cluster.pods_in(namespace), key=lambda p: p.name):
        row = [pod.name, "1/1", "Running", "0", age(pod.created)]
        rows.append(row + ([pod.ip or "<none>", pod.node, "<none>", "<none>"] if wide else []))
    return rows


def _nodes(cluster: Cluster, wide: bool, namespace: str) -> list[list[str]]:
    rows = [["NAME", "STATUS", "ROLES", "AGE", "VERSION"] + (["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                                                             "KERNEL-VERSION", "CONTAINER-RUNTIME"] if wide else [])]
    for node in sorted(cluster.nodes.values(), key=lambda n: n.name):
        row = [node.name, "Ready", node.role or "<none>", age(node.created), KUBELET_VERSION]
        rows.append(row + ([node.address, "<none>", _os_image(), platform.release(), CONTAINER_RUNTIME]
                           if wide else []))
    return rows


def _os_image() -> str:
    """The machine's own system: the nodes are namespaces on it."""
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "Linux")
    except OSError:
        return "Linux"


def _port_string(svc: Service) -> str:
    return ",".join(f"{p.port}:{p.node_port}/{p.protocol}" if p.node_port else f"{p.port}/{p.protocol}"
                    for p in svc.ports) or "<none>"


def _services(cluster: Cluster, wide: bool, namespace: str) -> list[list[str]]:
    rows = [["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"] + (["SELECTOR"] if wide else [])]
    for svc in sorted((s for s in cluster.services.values() if s.namespace == namespace), key=lambda s: s.name):
        row = [svc.name, svc.type, svc.cluster_ip, "<none>", _port_string(svc), age(svc.created)]
        selector = ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items())) or "<none>"
        rows.append(row + ([selector] if wide else []))
    return rows


def _more(items: list[str]) -> str:
    """``listWithMoreString`` with at most 3."""
    text = ",".join(items[:3])
    return f"{text} + {len(items) - 3} more..." if len(items) > 3 else text or "<unset>"


def slice_name(svc: Service) -> str:
    return svc.name if svc.endpoints_override is not None else f"{svc.name}-{svc.slice_suffix}"


def _slices(cluster: Cluster, wide: bool, namespace: str) -> list[list[str]]:
    rows = [["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]]
    for svc in sorted((s for s in cluster.services.values() if s.namespace == namespace), key=slice_name):
        if svc.endpoints_override is not None:
            addresses, ports = [ip for ip, _, _ in svc.endpoints_override], [str(p) for _, p, _ in svc.endpoints_override]
        else:
            pods = cluster.pods_of(svc)
            addresses, ports = [p.ip for p in pods], [str(s.target_port) for s in svc.ports] if pods else []
        rows.append([slice_name(svc), "IPv4", _more(sorted(set(ports))), _more(addresses), age(svc.created)])
    return rows


def _deployments(cluster: Cluster, wide: bool, namespace: str) -> list[list[str]]:
    rows = [["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] + (["CONTAINERS", "IMAGES", "SELECTOR"]
                                                                   if wide else [])]
    for dep in sorted((d for d in cluster.deployments.values() if d.namespace == namespace), key=lambda d: d.name):
        running = len(cluster.owned_by(dep))
        row = [dep.name, f"{running}/{dep.replicas}", str(running), str(running), age(dep.created)]
        container = dep.image.split("/")[-1].split(":")[0]
        rows.append(row + ([container, dep.image, f"app={dep.name}"] if wide else []))
    return rows


# --- changes ----------------------------------------------------------------------------------------
def _check_image(image: str) -> None:
    try:
        images.parse(image)
    except LabError as exc:
        raise KubectlError(f"error: {exc} (the pod would stay in ErrImagePull)") from None


def _new_pod(lab, cluster: Cluster, pod: Pod) -> None:
    if pod.name in cluster.pods:
        raise KubectlError(f'Error from server (AlreadyExists): pods "{pod.name}" already exists')
    pod.node = pod.node or cluster.schedule()
    kubelet.start_pod(lab, cluster, pod, podnet.mtu(cluster))
    cluster.pods[pod.name] = pod


def _run(lab, cluster: Cluster, words: list[str]) -> Output:
    options, args = _options(words, {"--image": "image", "--port": "port", "--restart": "restart"})
    if len(args) != 1 or "image" not in options:
        raise KubectlError("error: the lab's kubectl run needs NAME and --image=IMAGE (kubectl run NAME "
                           "--image=nginx [--port=80])")
    _check_image(options["image"])
    name = check_name("Pod", args[0])
    pod = Pod(name, NAMESPACE, "", options["image"], {"run": name}, _int(options.get("port", "0"), "port"))
    _new_pod(lab, cluster, pod)
    proxy.sync(lab, cluster)
    return Output.of(f"pod/{name} created\n")


def _create(lab, cluster: Cluster, words: list[str]) -> Output:
    if words[:1] != ["deployment"] and words[:1] != ["deploy"]:
        raise KubectlError("error: the lab's kubectl creates deployments only: kubectl create deployment NAME "
                           "--image=IMAGE [--replicas=N] [--port=N]")
    options, args = _options(words[1:], {"--image": "image", "--replicas": "replicas", "-r": "replicas",
                                         "--port": "port"})
    if len(args) != 1 or "image" not in options:
        raise KubectlError("error: required flag(s) \"image\" not set")
    name = check_name("Deployment", args[0])
    if cluster.deployment(name) is not None:
        raise KubectlError(f'error: failed to create deployment: deployments.apps "{name}" already exists')
    _check_image(options["image"])
    dep = Deployment(name, NAMESPACE, options["image"], _int(options.get("replicas", "1"), "replicas"),
                     _int(options.get("port", "0"), "port"))
    cluster.deployments[(NAMESPACE, name)] = dep
    reconcile(lab, cluster, dep)
    return Output.of(f"deployment.apps/{name} created\n")


def reconcile(lab, cluster: Cluster, dep: Deployment) -> None:
    """The Deployment and ReplicaSet controllers: as many pods as replicas (the newest go first)."""
    pods = sorted(cluster.owned_by(dep), key=lambda p: p.created)
    while len(pods) > dep.replicas:
        victim = pods.pop()
        kubelet.stop_pod(lab, cluster, victim, podnet.mtu(cluster))
        del cluster.pods[victim.name]
    serial = 0
    while len(pods) < dep.replicas:
        name = f"{dep.name}-{dep.hash}-{random_suffix(f'{dep.name}/{dep.hash}/{serial}')}"
        serial += 1
        if name in cluster.pods:
            continue
        pod = Pod(name, dep.namespace, "", dep.image, {**dep.labels, "pod-template-hash": dep.hash}, dep.port,
                  owner=dep.name, argv=dep.argv, dns_policy=dep.dns_policy)
        _new_pod(lab, cluster, pod)
        pods.append(pod)
    proxy.sync(lab, cluster)


def _scale(lab, cluster: Cluster, words: list[str]) -> Output:
    options, args = _options(words, {"--replicas": "replicas"})
    target = "/".join(args).split("/")
    if len(target) != 2 or RESOURCES.get(target[0]) != "deployments" or "replicas" not in options:
        raise KubectlError("error: the lab's kubectl scales deployments: kubectl scale deployment NAME --replicas=N")
    dep = cluster.deployment(target[1])
    if dep is None:
        raise not_found("deployments", target[1])
    dep.replicas = _int(options["replicas"], "replicas")
    reconcile(lab, cluster, dep)
    return Output.of(f"deployment.apps/{dep.name} scaled\n")


def _expose(lab, cluster: Cluster, words: list[str]) -> Output:
    options, args = _options(words, {"--port": "port", "--target-port": "target_port", "--type": "type",
                                     "--name": "name", "--session-affinity": "affinity", "--protocol": "protocol"})
    target = "/".join(args).split("/")
    if len(target) != 2 or RESOURCES.get(target[0]) not in ("deployments", "pods"):
        raise KubectlError("error: the lab's kubectl exposes a deployment or a pod: kubectl expose deployment "
                           "NAME --port=80 [--type=NodePort]")
    kind, source = RESOURCES[target[0]], target[1]
    if kind == "deployments":
        dep = cluster.deployment(source)
        if dep is None:
            raise not_found("deployments", source)
        selector, default_port = dep.labels, dep.port
    else:
        pod = _pod(cluster, source)
        if pod is None:
            raise not_found("pods", source)
        selector, default_port = dict(pod.labels), pod.container_port
    if "port" not in options and not default_port:
        raise KubectlError("error: couldn't find port via --port flag or introspection\nSee 'kubectl expose -h' "
                           "for help and examples")
    port = _int(options.get("port", str(default_port)), "port")
    name = check_name("Service", options.get("name", source))
    kind_of_service = options.get("type", "ClusterIP")
    if kind_of_service not in ("ClusterIP", "NodePort"):
        raise KubectlError(f"error: the lab's kubectl makes ClusterIP and NodePort services, not {kind_of_service}")
    if cluster.service(name) is not None:
        raise KubectlError(f'Error from server (AlreadyExists): services "{name}" already exists')
    affinity = options.get("affinity", "None")
    if affinity not in ("None", "ClientIP"):
        raise KubectlError(f'The Service "{name}" is invalid: spec.sessionAffinity: Unsupported value: "{affinity}": '
                           f'supported values: "ClientIP", "None"')
    spec = ServicePortSpec(port, _int(options.get("target_port", str(port)), "target-port"),
                           options.get("protocol", "TCP").upper())
    if kind_of_service == "NodePort":
        spec.node_port = cluster.allocate_node_port(f"{NAMESPACE}/{name}")
    cluster.services[(NAMESPACE, name)] = Service(name, NAMESPACE, kind_of_service, cluster.allocate_cluster_ip(f"{NAMESPACE}/{name}"),
                                     [spec], selector, affinity_seconds=10800 if affinity == "ClientIP" else 0,
                                     slice_suffix=random_suffix(f"slice/{NAMESPACE}/{name}"))
    proxy.sync(lab, cluster)
    dns.refresh(lab, cluster)
    return Output.of(f"service/{name} exposed\n")


def _delete(lab, cluster: Cluster, words: list[str]) -> Output:
    _, args = _options(words, {})
    target = "/".join(args).split("/")
    if len(target) != 2 or RESOURCES.get(target[0]) not in ("pods", "deployments", "services"):
        raise KubectlError("error: the lab's kubectl deletes a pod, a deployment or a service: kubectl delete pod NAME")
    kind, name = RESOURCES[target[0]], target[1]
    if kind == "pods":
        pod = _pod(cluster, name)
        if pod is None:
            raise not_found("pods", name)
        kubelet.stop_pod(lab, cluster, pod, podnet.mtu(cluster))
        del cluster.pods[name]
        dep = cluster.deployment(pod.owner, pod.namespace) if pod.owner else None
        if dep is not None:
            reconcile(lab, cluster, dep)  # the ReplicaSet makes a new one
        else:
            proxy.sync(lab, cluster)
        return Output.of(f'pod "{name}" deleted from {NAMESPACE} namespace\n')
    if kind == "deployments":
        dep = cluster.deployments.pop((NAMESPACE, name), None)
        if dep is None:
            raise not_found("deployments", name)
        dep.replicas = 0
        reconcile(lab, cluster, dep)
        return Output.of(f'deployment.apps "{name}" deleted from {NAMESPACE} namespace\n')
    if cluster.service(name) is None:
        raise not_found("services", name)
    del cluster.services[(NAMESPACE, name)]
    proxy.sync(lab, cluster)
    dns.refresh(lab, cluster)
    return Output.of(f'service "{name}" deleted from {NAMESPACE} namespace\n')


def _apply(lab, cluster: Cluster, words: list[str], input: str | None) -> Output:
    from pathlib import Path

    from .apply import apply

    options, args = _options(words, {"-f": "file", "--filename": "file"})
    if "file" not in options or args:
        raise KubectlError("error: must specify one of -f and -k (the lab's kubectl applies -f FILE, or -f - "
                           "with the YAML as standard input)")
    if options["file"] == "-":
        if input is None:
            raise KubectlError("error: -f - reads standard input, and none was given: pass input=... (or use a "
                               "%%kubectl cell, whose body is the input)")
        text = input
    else:
        try:
            text = Path(options["file"]).read_text()
        except OSError as exc:
            raise KubectlError(f'error: the path "{options["file"]}" does not exist ({exc.strerror})') from None
    return apply(lab, cluster, text)


def _pod(cluster: Cluster, name: str, namespace: str = NAMESPACE) -> Pod | None:
    pod = cluster.pods.get(name)
    return pod if pod is not None and pod.namespace == namespace else None


def _exec(lab, cluster: Cluster, words: list[str]) -> Output:
    options, args = _options(words, {"-i": "i", "-t": "t", "-it": "it", "-c": "container", "-n": "namespace",
                                     "--namespace": "namespace"})
    namespace = options.get("namespace", NAMESPACE)
    if "--" not in args or args.index("--") != 1:
        raise KubectlError("error: the lab's kubectl exec takes POD -- COMMAND (kubectl exec web -- curl -s "
                           "http://10.96.0.10/)")
    pod = _pod(cluster, args[0], namespace)
    if pod is None:
        raise not_found("pods", args[0])
    command = args[2:]
    image, _ = images.parse(pod.image)
    if command and not images.has(image, command[0]):
        raise KubectlError(f'error: Internal error occurred: error executing command in container: failed to exec in '
                           f'container: failed to start exec: OCI runtime exec failed: exec failed: unable to start '
                           f'container process: {images.not_found(command[0])}: unknown')
    result = lab.node(pod.name).run(command, timeout=60)
    return Output.of(result.stdout + result.stderr, result.rc)
