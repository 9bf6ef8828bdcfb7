"""``kubectl apply -f``: Pods, Deployments and Services from YAML, the fields a networking chapter uses.

Pod: ``metadata.name``/``labels``, ``spec.containers[0].image`` and ``ports[0].containerPort``/``hostPort``.
Deployment (``apps/v1``): ``spec.replicas``, ``spec.selector.matchLabels`` (equal to the template's
labels), the template's first container. Service: ``spec.type`` (ClusterIP, NodePort), ``selector``,
``ports`` (``port``, ``targetPort``, ``nodePort``, ``protocol``, ``name``), ``sessionAffinity``,
``externalTrafficPolicy``, ``clusterIP``. Anything else is refused by name. Each object prints
``kind/name created``, ``configured`` or ``unchanged`` (kubectl ``pkg/cmd/apply/apply.go``).
"""

from __future__ import annotations

from ..docker.cli import Output
from . import dns, kubelet, podnet, proxy
from .cluster import SERVICE_CIDR, Cluster, Deployment, Pod, Service, ServicePortSpec, random_suffix

KINDS = {("v1", "Pod"): "pod", ("apps/v1", "Deployment"): "deployment.apps", ("v1", "Service"): "service"}


def apply(lab, cluster: Cluster, text: str) -> Output:
    import yaml

    from .kubectl import NAMESPACE, KubectlError

    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise KubectlError(f"error: error parsing STDIN: {str(exc).splitlines()[0]}") from None
    if not documents:
        raise KubectlError("error: no objects passed to apply")
    parsed = [_read(doc, KubectlError) for doc in documents]  # every object checked before any is applied
    lines = []
    for kind, spec in parsed:
        namespace = spec.pop("namespace") or NAMESPACE
        if namespace != NAMESPACE:
            raise KubectlError(f"error: the lab's kubectl applies to the default namespace only (got {namespace})")
        verb = {"pod": _pod, "deployment.apps": _deployment, "service": _service}[kind](lab, cluster, spec)
        lines.append(f"{kind}/{spec['name']} {verb}")
    return Output.of("\n".join(lines) + "\n")


def _field(obj: dict, path: str, error, default=None):
    value = obj
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            if default is not None:
                return default
            raise error(f"error: error validating data: missing required field \"{path}\"")
        value = value[key]
    return value


def _allowed(obj: dict, keys: set, where: str, error) -> None:
    unknown = sorted(set(obj) - keys)
    if unknown:
        raise error(f'error: the lab\'s kubectl apply does not know {where}.{unknown[0]} (it reads '
                    f'{", ".join(sorted(keys))})')


def _container(spec: dict, where: str, error) -> dict:
    _allowed(spec, {"containers"}, where, error)
    containers = _field(spec, "containers", error)
    if not isinstance(containers, list) or len(containers) != 1:
        raise error(f"error: the lab's pods have one container: {where}.containers must list exactly one")
    c = containers[0]
    _allowed(c, {"name", "image", "ports", "command", "args", "imagePullPolicy"}, f"{where}.containers[0]", error)
    ports = c.get("ports") or [{}]
    return {"image": _field(c, "image", error), "port": int(ports[0].get("containerPort") or 0),
            "host_port": int(ports[0].get("hostPort") or 0)}


def _read(doc: dict, error) -> tuple[str, dict]:
    kind = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
    if kind is None:
        raise error(f'error: resource mapping not found for kind "{doc.get("kind")}" in version '
                    f'"{doc.get("apiVersion")}" (the lab applies v1 Pod, apps/v1 Deployment, v1 Service)')
    from .kubectl import check_name

    meta = _field(doc, "metadata", error)
    out = {"name": check_name(doc["kind"], str(_field(meta, "name", error))), "namespace": meta.get("namespace"),
           "labels": dict(meta.get("labels") or {})}
    spec = _field(doc, "spec", error)
    if kind == "pod":
        out.update(_container(spec, "spec", error))
    elif kind == "deployment.apps":
        _allowed(spec, {"replicas", "selector", "template"}, "spec", error)
        template = _field(spec, "template", error)
        labels = dict(_field(template, "metadata.labels", error))
        selector = dict(_field(spec, "selector.matchLabels", error))
        if selector != labels:
            raise error('error: The Deployment "{}" is invalid: spec.template.metadata.labels: Invalid value: '
                        '`selector` does not match template `labels`'.format(out["name"]))
        out.update(_container(_field(template, "spec", error), "spec.template.spec", error))
        out.update(replicas=int(spec.get("replicas", 1)), selector=selector)
    else:
        _allowed(spec, {"type", "selector", "ports", "sessionAffinity", "externalTrafficPolicy", "clusterIP"},
                 "spec", error)
        kind_of = spec.get("type", "ClusterIP")
        if kind_of not in ("ClusterIP", "NodePort"):
            raise error(f"error: the lab's Services are ClusterIP or NodePort, not {kind_of}")
        ports = []
        for p in _field(spec, "ports", error):
            _allowed(p, {"port", "targetPort", "nodePort", "protocol", "name"}, "spec.ports[]", error)
            ports.append(ServicePortSpec(int(p["port"]), int(p.get("targetPort", p["port"])),
                                         p.get("protocol", "TCP").upper(), p.get("name", ""),
                                         int(p.get("nodePort") or 0)))
        out.update(type=kind_of, selector=dict(spec.get("selector") or {}), ports=ports,
                   affinity=10800 if spec.get("sessionAffinity") == "ClientIP" else 0,
                   local=spec.get("externalTrafficPolicy") == "Local", cluster_ip=spec.get("clusterIP"))
    return kind, out


def _pod(lab, cluster: Cluster, spec: dict) -> str:
    old = cluster.pods.get(spec["name"])
    if old is not None:
        same = (old.image, old.container_port, old.host_port, old.labels) == (
            spec["image"], spec["port"], spec["host_port"], spec["labels"])
        if same:
            return "unchanged"
        kubelet.stop_pod(lab, cluster, old, podnet.mtu(cluster))  # (a real apiserver refuses most pod changes)
        del cluster.pods[old.name]
    pod = Pod(spec["name"], "default", cluster.schedule(), spec["image"], spec["labels"], spec["port"],
              spec["host_port"])
    kubelet.start_pod(lab, cluster, pod, podnet.mtu(cluster))
    cluster.pods[pod.name] = pod
    proxy.sync(lab, cluster)
    return "configured" if old is not None else "created"


def _deployment(lab, cluster: Cluster, spec: dict) -> str:
    from .kubectl import reconcile

    old = cluster.deployment(spec["name"])
    wanted = Deployment(spec["name"], "default", spec["image"], spec["replicas"], spec["port"],
                        selector=spec["selector"])
    if old is not None and (old.image, old.replicas, old.port, old.labels) == (
            wanted.image, wanted.replicas, wanted.port, wanted.labels):
        return "unchanged"
    if old is not None and (old.image, old.port, old.labels) != (wanted.image, wanted.port, wanted.labels):
        old.replicas = 0  # a new template: the old ReplicaSet's pods go, the new one's come
        reconcile(lab, cluster, old)
        old = None
    if old is not None:
        old.replicas = wanted.replicas
        reconcile(lab, cluster, old)
        return "configured"
    created = cluster.deployment(spec["name"]) is None
    cluster.deployments[("default", wanted.name)] = wanted
    reconcile(lab, cluster, wanted)
    return "created" if created else "configured"


def _service(lab, cluster: Cluster, spec: dict) -> str:
    from .kubectl import KubectlError

    old = cluster.service(spec["name"])
    key = f"default/{spec['name']}"
    cluster_ip = spec["cluster_ip"] or (old.cluster_ip if old else cluster.allocate_cluster_ip(key))
    if spec["cluster_ip"] and old is None:
        import ipaddress
        if ipaddress.ip_address(cluster_ip) not in ipaddress.ip_network(SERVICE_CIDR) or any(
                s.cluster_ip == cluster_ip for s in cluster.services.values()):
            raise KubectlError(f'The Service "{spec["name"]}" is invalid: spec.clusterIPs: Invalid value: '
                               f'["{cluster_ip}"]: failed to allocate IP {cluster_ip}: provided IP is already '
                               f'allocated or not in the valid range ({SERVICE_CIDR})')
    for port in spec["ports"]:
        if spec["type"] == "NodePort" and not port.node_port:
            previous = next((p.node_port for p in (old.ports if old else []) if p.port == port.port), 0)
            port.node_port = previous or cluster.allocate_node_port(f"{key}/{port.port}")
    wanted = Service(spec["name"], "default", spec["type"], cluster_ip, spec["ports"], spec["selector"],
                     affinity_seconds=spec["affinity"], external_policy_local=spec["local"],
                     slice_suffix=old.slice_suffix if old else random_suffix(f"slice/{key}"))
    if old is not None:
        wanted.created = old.created
        if (old.type, old.ports, old.selector, old.affinity_seconds, old.external_policy_local) == (
                wanted.type, wanted.ports, wanted.selector, wanted.affinity_seconds, wanted.external_policy_local):
            return "unchanged"
    cluster.services[("default", wanted.name)] = wanted
    proxy.sync(lab, cluster)
    if old is None:
        dns.refresh(lab, cluster)
    return "configured" if old is not None else "created"
