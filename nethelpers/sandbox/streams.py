"""A command's standard streams: its output read from pipes and kept within a budget (the first
and last MiB of each stream), and its input written as the pipe takes it, never blocking.
"""

from __future__ import annotations

import fcntl
import os
import select


# What the lab keeps of a command's output, per stream: its first and last MiB (a runaway
# command cannot fill the sandbox's memory, nor its /run, a tmpfs, nor the owner's)
HEAD = TAIL = 1 << 20
READ = 1 << 16       # bytes per read from a pipe
DRAIN = 1 << 20      # bytes read from a background command's pipe at a time
CUT = "[... {} bytes left out: the lab keeps the first and last 1 MiB of a command's output ...]\n"


class Output:
    """What a command printed, within a budget: the first HEAD bytes, the last TAIL bytes, and
    the number of bytes between (left out)."""

    def __init__(self) -> None:
        self.head, self.tail, self.dropped = bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        room = HEAD - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        extra = len(self.tail) - TAIL
        if extra > TAIL:  # trimmed now and then: at most twice TAIL held
            del self.tail[:extra]
            self.dropped += extra

    def text(self) -> tuple[str, int]:
        """The output as text, and how many bytes of it were left out (0: all of it is there)."""
        extra = max(0, len(self.tail) - TAIL)
        dropped = self.dropped + extra
        if not dropped:
            return (self.head + self.tail).decode(errors="replace"), 0
        head, tail = self.head[:_whole(self.head)], self.tail[extra:]
        start = _char_start(tail)
        dropped += len(self.head) - len(head) + start
        line = ("" if head.endswith(b"\n") else "\n") + CUT.format(dropped)
        return head.decode(errors="replace") + line + tail[start:].decode(errors="replace"), dropped

    def last(self, chars: int) -> str:
        """Its last ``chars`` characters (as a timeout's message shows them)."""
        data = (self.head[-4 * chars:] + self.tail[-4 * chars:])[-4 * chars:]
        return data[_char_start(data):].decode(errors="replace")[-chars:]


def _whole(data: bytes) -> int:
    """Where the last complete UTF-8 character of ``data`` ends (a cut may fall inside one)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: where the last character starts
            size = 1 if byte < 0xC0 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if size > back else len(data)
    return len(data)


def _char_start(data: bytes) -> int:
    """Where the first whole UTF-8 character of ``data`` starts (after at most 3 continuation bytes)."""
    start = 0
    while start < min(3, len(data)) and data[start] & 0xC0 == 0x80:
        start += 1
    return start


def _pipe() -> tuple[int, int]:
    """A pipe for a command's output: our (read) end non-blocking; neither end inherited."""
    read, write = os.pipe()
    os.set_blocking(read, False)
    return read, write


def _log_pipe(path: str) -> tuple[int, int]:
    """A named pipe at ``path`` (read end, write end): /proc/PID/fd of a background command
    shows where its output goes, as the log file it replaces did."""
    os.mkfifo(path, 0o600)
    read = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    return read, os.open(path, os.O_WRONLY)


def _drain(fd: int, output: Output | None, limit: int = DRAIN) -> bool:
    """Read what pipe ``fd`` holds, at most ``limit`` bytes, into ``output`` (None: discard it).
    False at end of file (every writer closed it)."""
    got = 0
    while got < limit:
        try:
            data = os.read(fd, READ)
        except BlockingIOError:
            return True
        if not data:
            return False
        got += len(data)
        if output is not None:
            output.add(data)
    return True


def _capacity(fd: int) -> int:
    """How many bytes pipe ``fd`` holds at most."""
    try:
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except OSError:
        return DRAIN


class _Feed:
    """``input`` for a command's stdin pipe, written as the pipe takes it (never blocking)."""

    def __init__(self, stdin, input: str | None, poller) -> None:
        self.stdin, self.poller, self.fd = stdin, poller, None
        self.data = memoryview(input.encode()) if input is not None else b""
        if stdin is not None:
            self.fd = stdin.fileno()
            os.set_blocking(self.fd, False)
            poller.register(self.fd, select.POLLOUT)
            if not self.data:
                self.close()

    def write(self) -> None:
        try:
            self.data = self.data[os.write(self.fd, self.data[:READ]):]
        except BlockingIOError:
            return
        except OSError:  # EPIPE: it does not read all its input (communicate() allowed it too)
            self.data = b""
        if not self.data:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            self.poller.unregister(self.fd)
            self.fd = None
        if self.stdin is not None:
            try:
                self.stdin.close()
            except OSError:
                pass
            self.stdin = None
