"""Talking to the lab's own daemons (programs started in nodes, such as a Docker
host's overlay agent) over unix sockets in the sandbox's private ``/run``.

A unix socket is a file, not a port: it belongs to no network namespace, so the
sandbox reaches a daemon whatever node it runs in, and nothing of it is visible
on the machine (``/run`` here is the sandbox's own tmpfs). One request is one JSON
line; the answer is one JSON line.
"""

from __future__ import annotations

import json
import os
import re
import socket

from ..errors import CommandTimeout, InvalidName, NotFound
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
