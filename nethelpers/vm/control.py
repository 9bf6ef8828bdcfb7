"""The owner's ends of the guest's two streams, each drained by a thread: the JSON-lines control
channel to the guest's agent (requests, replies, events) and the serial console (its last lines).
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time

from ..errors import LabUnavailable


class Control:
    """The JSON-lines channel to the guest's agent; a thread reads it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.waiting: dict[int, dict] = {}
        self.replies = threading.Condition()
        self.next_id = 0
        self.hello = threading.Event()
        self.closed_labs: dict[int, int] = {}
        self.on_closed = lambda lab: None
        self.eof = False
        threading.Thread(target=self._read, name="nethelpers-vm-control", daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = json.loads(line)  # data only: what the guest sends is not trusted
                    if isinstance(message, dict):
                        self._dispatch(message)
                if len(buffer) > 1 << 20:  # a line of over a MiB: no agent of ours sends that
                    break
        except (OSError, ValueError, KeyError, TypeError):
            pass
        with self.replies:
            self.eof = True
            self.replies.notify_all()
        self.hello.set()

    def _dispatch(self, message: dict) -> None:
        event = message.get("event")
        if event == "hello":
            self.hello.set()
        elif event == "closed":
            with self.replies:
                self.closed_labs[message["lab"]] = message["status"]
                self.replies.notify_all()
            self.on_closed(message["lab"])
        elif "id" in message:
            with self.replies:
                self.waiting[message["id"]] = message
                self.replies.notify_all()

    def request(self, op: str, timeout: float = 30, **arguments) -> dict:
        with self.lock:
            self.next_id += 1
            number = self.next_id
            self.sock.sendall((json.dumps({"id": number, "op": op, **arguments}) + "\n").encode())
        deadline = time.monotonic() + timeout
        with self.replies:
            while number not in self.waiting:
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise LabUnavailable(f"the lab's VM did not answer {op!r}"
                                         + (": it stopped" if self.eof else f" within {timeout:g} s"))
                self.replies.wait(left)
            reply = self.waiting.pop(number)
        if not reply.get("ok"):
            raise LabUnavailable(f"the lab's VM could not {op}: {reply.get('error')}")
        return reply

    def wait_closed(self, lab: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.replies:
            while lab not in self.closed_labs and not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.replies.wait(left)
            self.closed_labs.pop(lab, None)
        return True


class Console:
    """The guest's serial console, drained by a thread; its last lines kept for error reports."""

    def __init__(self, sock: socket.socket, keep: int = 200) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.sock = sock
        threading.Thread(target=self._read, name="nethelpers-vm-console", daemon=True).start()

    def _read(self) -> None:
        partial = b""
        try:
            while chunk := self.sock.recv(65536):
                partial += chunk
                *whole, partial = partial.split(b"\n")
                self.lines.extend(line.decode(errors="replace")[:500] for line in whole)
                partial = partial[-500:]
        except OSError:
            pass

    def tail(self, n: int = 30) -> str:
        return "\n".join(list(self.lines)[-n:]) or "(the guest printed nothing)"
