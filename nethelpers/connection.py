"""The lab's line to its sandbox: one request at a time, answers checked, batches, Ctrl-C.

:class:`Connection` is the part of :class:`nethelpers.Lab` that talks to the sandbox process
(:mod:`nethelpers.sandbox`) over a socket. Only the lab core — :mod:`nethelpers.lab`,
:mod:`nethelpers.node`, :mod:`nethelpers.results` — sends requests with ``_call``/``_op``;
every other module uses the lab's public methods.
"""

from __future__ import annotations

import contextlib
import threading

from .errors import Interrupted, LabClosed, LabError
from .sandbox import channel


class Connection:
    """Requests to one sandbox (``backends.start`` made it), from any thread, one at a time."""

    def _connect(self, sandbox, info: dict) -> None:
        self._lock = threading.RLock()   # one request at a time, whichever thread sends it
        self._local = threading.local()   # each thread's open batch
        self._request_id = 0
        self._sandbox, self.info = sandbox, info
        self.explaining = False           # inside explain(): print each operation's commands
        self._conn = sandbox.conn
        self.closed = False

    def _tail(self) -> str:
        return self._sandbox.tail()

    def _call(self, op: str, *args, **kwargs):
        with self._lock:
            if self.closed:
                raise LabClosed(self._closed_why)
            self._request_id += 1
            try:
                self._conn.send([self._request_id, op, list(args), kwargs])
                try:
                    status, value = self._reply(op)
                except KeyboardInterrupt:
                    # Ctrl-C (Jupyter's "interrupt kernel"): stop the command running in the
                    # sandbox, as a terminal would, and take its answer so requests stay in step
                    self._sandbox.interrupt()
                    status, value = self._reply(op)
                    raise Interrupted(value if status == "ok" else None) from None
            except (EOFError, OSError):
                self.closed = True
                raise LabClosed(f"the lab's sandbox ended unexpectedly: {self._tail()}") from None
        if status == "err":
            raise value
        return value

    def _reply(self, op: str) -> tuple[str, object]:
        """The answer to the latest request (answers to interrupted ones are dropped), checked:
        only plain data of the expected shape is taken from the sandbox (see sandbox/channel.py)."""
        while True:
            request_id, status, value = channel.reply(self._conn.recv(), op)
            if request_id == self._request_id:
                return status, value

    @property
    def _batch(self) -> list | None:
        """The operations of this thread's open :meth:`batch` (None outside one)."""
        return getattr(self._local, "batch", None)

    @_batch.setter
    def _batch(self, ops: list | None) -> None:
        self._local.batch = ops

    def _op(self, op: str, **kwargs) -> None:
        """Queue one operation in the open batch, or run it alone."""
        if self._batch is not None:
            self._batch.append((op, kwargs))
        else:
            self._apply([(op, kwargs)])

    @contextlib.contextmanager
    def batch(self):
        """Collect the operations of a ``with`` block and run them in one request.

        All or nothing: if one fails, those before it are undone. Nothing is sent
        if the block itself raises. A batch belongs to the thread that opened it: what
        other threads do meanwhile is not part of it.
        """
        if self._batch is not None:
            yield self
            return
        self._batch = []
        try:
            yield self
            ops = self._batch
        finally:
            self._batch = None
        if ops:
            self._apply(ops)

    def flush_batch(self) -> None:
        """Send the operations queued so far in this thread's open :meth:`batch` (which stays open),
        for when something outside the lab's requests must see them: a plugin process acting on the
        kernel itself. Outside a batch: nothing to do."""
        ops = self._batch
        if ops:
            self._batch = []
            self._apply(ops)

    def _apply(self, ops: list[tuple[str, dict]]) -> None:
        """Run operations in the sandbox; inside :meth:`explain`, print the commands they stand for."""
        self._call("apply", ops)
        if self.explaining:
            from .equivalents import render

            print(render(ops, {n["name"]: n["parent"] for n in self._call("nodes")}))

    @contextlib.contextmanager
    def explain(self):
        """Print, for each operation of the block, the shell commands it stands for, as a learner
        would type them on a real machine (``myhost# ip link add veth1 type veth peer name eth0
        netns app1``); :mod:`nethelpers.equivalents` says what they leave out."""
        before, self.explaining = self.explaining, True
        try:
            yield self
        finally:
            self.explaining = before

    def _shutdown(self) -> None:
        """Ask the sandbox to end (every node, link, rule and process of the lab goes) and wait."""
        if self.closed:  # (also a lab whose sandbox never started)
            return
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._conn.send([self._request_id + 1, "shutdown", [], {}])
                self._conn.recv()
            except (EOFError, OSError, LabError):
                pass
            self._conn.close()
            self._sandbox.wait(10)
