"""The connection between a lab and its sandbox: length-prefixed JSON, and nothing else.

Both ends use :class:`Channel`. A message is a 4-byte big-endian length then that many bytes
of UTF-8 JSON: only lists, dicts with string keys, strings, numbers, booleans and null cross,
so no message can make the other end build an object or run code (a pickle could, and a
process in a node that took over the sandbox's end of the socket could then run code in the
notebook). What arrives is checked before use: its size (:data:`MAX_MESSAGE`), its shape
(:func:`request`, :func:`reply`) and, for an error, its class, taken only from
:data:`ERRORS`.

    request  [id, op, [args...], {kwargs...}]     lab -> sandbox
    reply    [id, "ok", value]                      sandbox -> lab
             [id, "err", {"type": "NotFound", "message": "..."}]
"""

from __future__ import annotations

import json
import os
import select
import struct

from .. import errors

MAX_MESSAGE = 64 << 20  # bytes: far above any answer (a command's output is cut at a few MB)
# the exceptions that may cross, by name; anything else arrives as a KernelError
ERRORS = {name: cls for name, cls in vars(errors).items()
          if isinstance(cls, type) and issubclass(cls, errors.LabError)}


class ProtocolError(errors.KernelError):
    """A message that is not what the protocol allows (a bug, or a forged message)."""


class Channel:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def send(self, message) -> None:
        payload = json.dumps(message, ensure_ascii=False, allow_nan=False, check_circular=False,
                             separators=(",", ":"), default=_refuse).encode()
        if len(payload) > MAX_MESSAGE:
            raise ProtocolError(f"a message of {len(payload)} bytes is over the lab's limit of {MAX_MESSAGE}")
        data = memoryview(struct.pack("!I", len(payload)) + payload)
        while data:
            data = data[os.write(self.fd, data):]

    def recv(self):
        (size,) = struct.unpack("!I", self._read(4))
        if size > MAX_MESSAGE:
            raise ProtocolError(f"a message of {size} bytes announced: over the limit of {MAX_MESSAGE}")
        try:
            return json.loads(self._read(size))
        except (ValueError, RecursionError):  # RecursionError: absurdly nested lists
            raise ProtocolError("a message that is not valid JSON arrived") from None

    def wait(self, timeout: float | None) -> bool:
        """Whether a message (or the other end's hang-up) is waiting, within ``timeout`` seconds."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        return bool(poller.poll(None if timeout is None else max(0, timeout) * 1000))

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = os.read(self.fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError("the other end closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _refuse(value):
    raise TypeError(f"a {type(value).__name__} cannot cross the lab's connection (JSON only)")


# --- the shapes ---------------------------------------------------------------------------
def request(message) -> tuple[int, str, list, dict]:
    """A request as the sandbox accepts it, or ProtocolError."""
    if not (isinstance(message, list) and len(message) == 4 and _is_id(message[0])
            and isinstance(message[1], str) and isinstance(message[2], list)
            and isinstance(message[3], dict)):
        raise ProtocolError("a request must be [id, op, [args], {kwargs}]")
    return message[0], message[1], message[2], message[3]


# what each request's answer is, for the lab to check before it uses one
ANSWERS = {"apply": type(None), "nodes": list, "run": dict, "start": dict, "status": dict, "exited": list, "stop": dict,
           "processes": list, "sysctl": str, "write_etc": str, "snapshot": dict, "dns_attach": type(None),
           "dns_records": type(None), "dns_detach": type(None), "http": dict,
           "load_module": bool, "info": dict, "shutdown": type(None)}


def reply(message, op: str | None = None) -> tuple[int, str, object]:
    """A reply as the lab accepts it: (id, "ok", value) or (id, "err", a LabError), or ProtocolError.
    ``op``: the request answered, whose answer must have the type :data:`ANSWERS` gives."""
    if not (isinstance(message, list) and len(message) == 3 and _is_id(message[0])
            and message[1] in ("ok", "err")):
        raise ProtocolError("the sandbox sent a reply that is not [id, 'ok'|'err', value]")
    request_id, status, value = message
    if status == "err":
        value = error_from(value)
    elif op in ANSWERS and not isinstance(value, ANSWERS[op]):
        raise ProtocolError(f"the sandbox answered {op!r} with a {type(value).__name__}, "
                            f"not a {ANSWERS[op].__name__}")
    return request_id, status, value


def error_data(exc: errors.LabError) -> dict:
    """An exception as it crosses: its class name and message."""
    return {"type": type(exc).__name__, "message": str(exc)}


def error_from(data) -> errors.LabError:
    if not (isinstance(data, dict) and isinstance(data.get("type"), str)
            and isinstance(data.get("message"), str)):
        return ProtocolError("the sandbox sent an error without a type and a message")
    cls = ERRORS.get(data["type"], errors.KernelError)
    return cls(data["message"])


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
