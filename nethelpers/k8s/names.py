"""The names kube-proxy gives its chains (Kubernetes v1.37, ``pkg/proxy/iptables/proxier.go``
``portProtoHash``/``servicePortEndpointChainName``, ``pkg/proxy/nftables/proxier.go`` ``hashAndTruncate``).

iptables: a prefix and the first 16 characters of base32(sha256(...)) of the service port's name
(``ns/svc:port``, no colon for an unnamed port) and protocol (lower case), plus ``ip:port`` for an
endpoint. nftables: the first 8 characters, a dash, and the readable name itself (``ns/svc/tcp/port``).
"""

from __future__ import annotations

import base64
import hashlib


def _b32_sha256(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    """``ServicePortName.String()``: ``ns/svc:port``, or ``ns/svc`` for an unnamed port."""
    return f"{namespace}/{name}" + (f":{port_name}" if port_name else "")


def port_proto_hash(svc_port_name: str, protocol: str) -> str:
    return _b32_sha256(svc_port_name + protocol.lower())[:16]


def service_chain(prefix: str, svc_port_name: str, protocol: str) -> str:
    """``KUBE-SVC-``/``KUBE-SVL-``/``KUBE-EXT-``/``KUBE-FW-`` + the port's hash."""
    return prefix + port_proto_hash(svc_port_name, protocol)


def endpoint_chain(svc_port_name: str, protocol: str, endpoint: str) -> str:
    """``KUBE-SEP-`` + the hash of the service port, protocol and ``ip:port``."""
    return "KUBE-SEP-" + _b32_sha256(svc_port_name + protocol.lower() + endpoint)[:16]


def nft_base(text: str) -> str:
    """``hashAndTruncate``: ``HASH8-text`` (cut to 240 characters, ending ``...``)."""
    name = _b32_sha256(text)[:8] + "-" + text
    return name if len(name) <= 240 else name[:237] + "..."


def nft_service_base(namespace: str, name: str, protocol: str, port_name: str) -> str:
    return nft_base(f"{namespace}/{name}/{protocol.lower()}/{port_name}")


def nft_endpoint_base(namespace: str, name: str, protocol: str, port_name: str, ip: str, port: int) -> str:
    return nft_base(f"{namespace}/{name}/{protocol.lower()}/{port_name}__{ip.replace(':', '.')}/{port}")
