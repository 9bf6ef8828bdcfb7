"""Talking to the lab's own daemons (programs started in nodes, such as a Docker
host's overlay agent) over unix sockets in the sandbox's private ``/run``.

A unix socket is a file, not a port: it belongs to no network namespace, so the
sandbox reaches a daemon whatever node it runs in, and nothing of it is visible
on the machine (``/run`` here is the sandbox's own tmpfs). One request is one JSON
line; the answer is one JSON line. :func:`http` speaks HTTP/1.1 instead, as Docker
does to its plugins (``/run/docker/plugins/NAME.sock``).
"""

from __future__ import annotations

import json
import os
import re
import socket

from ..errors import CommandTimeout, InvalidName, InvalidValue, NotFound
from .setup import STATE_DIR

SOCKETS = STATE_DIR + "/sockets"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")


def path_of(name: str) -> str:
    """Where daemon ``name`` listens (it creates the directory if needed)."""
    if not _NAME.match(name):
        raise InvalidName(f"daemon name {name!r} is not usable: letters, digits, '.', '_', '-'")
    return os.path.join(SOCKETS, name)


def ask(name: str, request: dict, timeout: float = 10) -> dict:
    """Send ``request`` to daemon ``name``; its answer (a dict)."""
    path = path_of(name)
    if not os.path.exists(path):
        raise NotFound(f"no lab daemon {name!r} is listening (no socket {path}); it was not started "
                       f"or it has exited")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            raise CommandTimeout(f"lab daemon {name!r} did not answer {request.get('op')!r} within "
                                 f"{timeout} s") from None
        except (ConnectionRefusedError, FileNotFoundError):
            raise NotFound(f"lab daemon {name!r} is not listening any more (it has exited)") from None
    if not data:
        raise NotFound(f"lab daemon {name!r} closed the connection without answering {request.get('op')!r}")
    return json.loads(data)


PLUGIN_MIMETYPE = "application/vnd.docker.plugins.v1.2+json"  # moby pkg/plugins/transport
SOCKET_ROOTS = ("/run/docker/plugins/", SOCKETS + "/")


def _unix_connection(path: str, timeout: float):
    """An HTTPConnection over a unix socket. (http.client is imported here, when first needed:
    with email and ssl it would cost the VM backend's guest half a second at every boot.)"""
    from http.client import HTTPConnection

    class UnixConnection(HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            self.sock.connect(path)

    return UnixConnection("plugin.moby.localhost", timeout=timeout)  # the Host: Docker sends on unix sockets


def http(name_or_path: str, method: str, path: str, body=None, timeout: float = 10) -> dict:
    """One HTTP/1.1 request over a unix socket in the sandbox's ``/run``, as Docker's plugin
    client sends it (``Accept: application/vnd.docker.plugins.v1.2+json``, a JSON body or none).

    Args:
        name_or_path: a lab daemon's name, or a socket path under /run/docker/plugins/.
        body: JSON-able data, sent as JSON plus a newline (Go's json.Encoder); None: no body.
    Returns:
        ``{"status": 200, "content_type": ..., "json": <decoded body or None>, "text": <raw body>}``.
    """
    sock_path = os.path.realpath(name_or_path) if "/" in name_or_path else path_of(name_or_path)
    if not sock_path.startswith(SOCKET_ROOTS):
        raise InvalidValue(f"socket {name_or_path!r} is outside the lab's sockets; use a path under "
                           f"{' or '.join(SOCKET_ROOTS)}")
    if not isinstance(path, str) or not path.startswith("/") or any(c in path for c in " \r\n"):
        raise InvalidValue(f"HTTP path {path!r} should look like '/Plugin.Activate'")
    if not os.path.exists(sock_path):
        raise NotFound(f"nothing listens on {sock_path}: start the plugin first (it creates its socket there)")
    data = b"" if body is None else json.dumps(body).encode() + b"\n"
    from http.client import HTTPException

    connection = _unix_connection(sock_path, timeout)
    try:
        connection.request(method, path, body=data, headers={"Accept": PLUGIN_MIMETYPE})
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
    except socket.timeout:
        raise CommandTimeout(f"{sock_path} did not answer {method} {path} within {timeout} s") from None
    except (ConnectionRefusedError, FileNotFoundError):
        raise NotFound(f"nothing listens on {sock_path} any more (the plugin has exited)") from None
    except (HTTPException, ConnectionError) as exc:
        raise NotFound(f"{sock_path} closed the connection during {method} {path} ({exc}); "
                       f"is the plugin still running?") from None
    finally:
        connection.close()
    try:
        decoded = json.loads(text) if text.strip() else None
    except ValueError:
        decoded = None
    return {"status": response.status, "content_type": response.getheader("Content-Type", ""),
            "json": decoded, "text": text}
