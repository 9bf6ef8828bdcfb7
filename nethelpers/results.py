"""What running a command in a node gives back: its result, or a live process."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .errors import CommandFailed, CommandTimeout
from .i18n import _


def command_text(command) -> str:
    """A command as one line: a string as given, a list joined with spaces."""
    return command if isinstance(command, str) else " ".join(map(str, command))


@dataclass
class CommandResult:
    """Exit status and output of a command run in a node. ``dropped``: how many bytes of its
    output the lab left out (it keeps the first and last MiB of each stream; 0: all is there)."""

    command: str
    rc: int
    stdout: str
    stderr: str
    dropped: int = 0

    @classmethod
    def from_reply(cls, command, reply: dict, check: bool = False) -> "CommandResult":
        text = command_text(command)
        result = cls(text, reply["rc"], reply["stdout"], reply["stderr"], sum(reply.get("dropped", {}).values()))
        if check and result.rc != 0:
            raise CommandFailed(_("{command} exited with status {rc}: {output}").format(
                command=repr(text), rc=result.rc, output=(result.stderr or result.stdout).strip()[-500:]))
        return result

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def output(self) -> str:
        """stdout then stderr, as a terminal would show them."""
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return self.output

    def _repr_pretty_(self, printer, cycle) -> None:
        text = self.output.rstrip("\n")
        if self.rc:
            text += ("\n" if text else "") + f"[exit status {self.rc}]"
        printer.text(text)


class BackgroundProcess:
    """A command running in a node until stopped (a server, a capture...)."""

    def __init__(self, lab, node: str | None, command: str, reply: dict) -> None:
        self.lab, self.node, self.command = lab, node, command
        self.id = reply["id"]
        self.pid = reply.get("pid")  # as the lab's nodes see it (they share the sandbox's PID namespace)
        self._final: dict | None = None

    def _status(self) -> dict:
        return self._final or self.lab._call("status", self.id)

    @property
    def running(self) -> bool:
        return self._status()["running"]

    @property
    def output(self) -> str:
        """Everything it printed so far (stdout and stderr together)."""
        return self._status()["output"]

    def wait_for(self, text: str, timeout: float = 5) -> str:
        """Wait until its output contains ``text`` (e.g. a server saying it listens) and the line
        that holds it is complete; returns the output so far."""
        deadline = time.monotonic() + timeout * self.lab.patience
        while True:
            status = self._status()
            found = status["output"].find(text)
            # the line that says it whole: a program may write its newline separately, later
            if found >= 0 and ("\n" in status["output"][found + len(text):] or "\n" in text
                               or not status["running"] or time.monotonic() > deadline):
                return status["output"]
            if not status["running"] or time.monotonic() > deadline:
                message = (_("{command} in node {node} exited without printing {text}; its output: {output}")
                           if not status["running"] else
                           _("{command} in node {node} still running after {timeout} s without printing {text}; "
                             "its output: {output}"))
                raise CommandTimeout(message.format(command=repr(self.command), node=repr(self.node),
                                                    timeout=timeout, text=repr(text),
                                                    output=repr(status["output"][-300:])))
            time.sleep(0.02)

    def wait(self, timeout: float = 5) -> str:
        """Wait until it exits by itself (e.g. ``tcpdump -c 2``); returns its whole output."""
        deadline = time.monotonic() + timeout * self.lab.patience
        while self.running:
            if time.monotonic() > deadline:
                raise CommandTimeout(_("{command} in node {node} still runs after {timeout} s; stop it with "
                                       ".stop(), or bound it (tcpdump -c N, ping -c N)").format(
                    command=repr(self.command), node=repr(self.node), timeout=timeout))
            time.sleep(0.02)
        return self.stop()

    def stop(self) -> str:
        """Stop it (SIGTERM, then SIGKILL) and return its whole output."""
        if self._final is None:
            self._final = self.lab._call("stop", self.id)
        return self._final["output"]

    def __repr__(self) -> str:
        return f"<BackgroundProcess #{self.id} in {self.node}: {self.command!r}>"
