"""docker-proxy's addresses: the socket family of an IP, its sockaddr, and how it is printed."""

from __future__ import annotations

import ipaddress
import socket


def family_of(ip: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET


def endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def sockaddr(ip: str, port: int) -> tuple:
    return (ip, port, 0, 0) if ":" in ip else (ip, port)
