"""Checks of the caller's input, done before anything reaches the kernel."""

from __future__ import annotations

import ipaddress
import math
import numbers
import os
import re

from .errors import InvalidAddress, InvalidName, InvalidValue
from .i18n import _

IFNAMSIZ = 15
# execve(2): one argument may hold at most MAX_ARG_STRLEN bytes, its NUL included (32 pages:
# linux/binfmts.h); arguments and environment together at most a quarter of the stack limit
# (2 MiB with the usual 8 MiB). The lab keeps a whole command under 1 MiB, so that what runs
# here runs on any machine; more data than that belongs on stdin (input=) or in a file.
MAX_ARG_STRLEN = 131072
MAX_COMMAND = 1 << 20
MAX_TIMEOUT = 86400  # seconds (a day); timeout=None waits as long as the command runs
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def node_name(name: str) -> str:
    if not isinstance(name, str) or not NODE_NAME.match(name):
        raise InvalidName(_("node name {name} is not usable: use 1-64 letters, digits, '.', '_' "
                            "or '-', starting with a letter or digit (e.g. 'host1', 'c1')").format(name=repr(name)))
    return name


def ifname(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidName(_("interface name {name} is empty; give it a name such as 'eth0'").format(name=repr(name)))
    size = len(name.encode(errors="surrogatepass"))
    if size > IFNAMSIZ:
        length = (_("{size} characters").format(size=size) if size == len(name) else
                  _("{length} characters, {size} bytes in UTF-8").format(length=len(name), size=size))
        raise InvalidName(_("interface name {name} has {length}; Linux allows at most {most} "
                            "bytes (IFNAMSIZ-1). Shorten it, e.g. {shorter}").format(
            name=repr(name), length=length, most=IFNAMSIZ, shorter=repr(_shortened(name))))
    if name in (".", "..") or any(c in name for c in "/: \t\n\v\f\r"):  # the kernel's dev_valid_name
        raise InvalidName(_("interface name {name} may not contain '/', ':' or spaces, "
                            "nor be '.' or '..'").format(name=repr(name)))
    return name


def endpoint(value) -> tuple[str, str]:
    """One end of a link: "node:ifname", or an ``Interface`` (node, ifname), checked."""
    if isinstance(value, tuple) and len(value) == 2:
        node, name = value
    elif isinstance(value, str) and value.count(":") == 1:
        node, name = value.split(":")
    else:
        raise InvalidName(_("endpoint {value} must be written 'node:interface', e.g. 'c1:eth0' "
                            "(or lab['c1'].interface('eth0'))").format(value=repr(value)))
    return node_name(node), ifname(name)


def _shortened(name: str) -> str:
    """The longest start of ``name`` that fits in IFNAMSIZ bytes, cut between characters."""
    return name.encode(errors="surrogatepass")[:IFNAMSIZ].decode(errors="ignore")


def cidr(text: str, *, what: str = "address") -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """An address with its prefix, e.g. '10.0.0.2/24', that names a usable host."""
    if not isinstance(text, str) or "/" not in text:
        raise InvalidAddress(_("{what} {text} needs a prefix length, e.g. '10.0.0.2/24'").format(
            what=what, text=repr(text)))
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError as exc:
        raise InvalidAddress(_("{what} {text} is not a valid CIDR ({why}); write it like '10.0.0.2/24'").format(
            what=what, text=repr(text), why=exc)) from None
    net = iface.network
    if iface.version == 4 and net.prefixlen < 31:
        if iface.ip == net.network_address:
            raise InvalidAddress(_("{text} is the network address of {net}, not a host address; "
                                   "use the first host, {first}/{prefix}").format(
                text=text, net=net, first=net.network_address + 1, prefix=net.prefixlen))
        if iface.ip == net.broadcast_address:
            raise InvalidAddress(_("{text} is the broadcast address of {net}, not a host address; "
                                   "use {last}/{prefix}").format(
                text=text, net=net, last=net.broadcast_address - 1, prefix=net.prefixlen))
    return iface


def network(text: str) -> str:
    """A destination network such as '10.1.0.0/16' or 'default'."""
    if text == "default":
        return text
    try:
        return str(ipaddress.ip_network(text))
    except ValueError:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise InvalidAddress(_("destination {text} is not a network ({why}); write it like "
                                   "'10.1.0.0/16' or 'default'").format(text=repr(text), why=exc)) from None
        fixed = ipaddress.ip_network(text, strict=False)
        raise InvalidAddress(_("destination {text} has host bits set; the network is {fixed}").format(
            text=repr(text), fixed=fixed)) from None


def ip(text: str, *, what: str = "address") -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidAddress(_("{what} {text} is not an IP address (write it like '10.0.0.1', "
                               "without a prefix)").format(what=what, text=repr(text))) from None


def mac(text: str) -> str:
    if not isinstance(text, str) or not _MAC.match(text):
        raise InvalidAddress(_("MAC address {text} is malformed; write six hex pairs like "
                               "'02:42:ac:11:00:02'").format(text=repr(text)))
    return text.lower()


def number(value, *, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(f"{what} {value!r} is out of range; it must be an integer "
                             f"from {low} to {high}")
    return value


def mtu(value: int | None) -> int | None:
    return None if value is None else number(value, what="MTU", low=68, high=65535)


def sysctl_settable(key: str) -> str:
    """A sysctl a node may set: net.* only, the settings each network namespace has its own of."""
    if not key.startswith("net."):
        raise InvalidValue(
            f"sysctl {key!r} cannot be set in a node: only net.* settings belong to a network "
            f"namespace; {key.split('.')[0]}.* ones are machine-wide, so setting it would change the "
            f"machine the lab runs on (every node and everything else), and a lab never changes the "
            f"machine. Reading it is fine: node.sysctl({key!r})")
    return key


# --- commands run in a node ---------------------------------------------------------------
def command(value, *, what: str = "command") -> str | list[str]:
    """A command to run: a str (for /bin/sh -c) or a list of arguments (str, int or path),
    given back as a str or a list of str."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidValue(f"{what} {value!r} is empty; give the command to run, e.g. 'ip -br addr'")
        arguments([value], what=what)
        return value
    if isinstance(value, (list, tuple)) and value:
        argv = [_argument(word, i, what) for i, word in enumerate(value)]
        if not argv[0]:
            raise InvalidValue(f"{what} {_short(value)} starts with an empty program name; "
                               f"name the program first, e.g. ['ip', '-br', 'addr']")
        return arguments(argv, what=what)
    if isinstance(value, (list, tuple)):
        raise InvalidValue(f"{what} {value!r} is empty; give the program and its arguments, "
                           f"e.g. ['ip', '-br', 'addr']")
    hint = " (decode them first: .decode())" if isinstance(value, (bytes, bytearray)) else ""
    raise InvalidValue(f"{what} {_short(value)} {kind(value)}{hint}; give a str such as "
                       f"'ip -br addr' (run by /bin/sh) or a list such as ['ip', '-br', 'addr']")


def _argument(word, index: int, what: str) -> str:
    if isinstance(word, str):
        return word
    if isinstance(word, int) and not isinstance(word, bool):
        return str(word)
    if isinstance(word, os.PathLike) and isinstance(os.fspath(word), str):
        return os.fspath(word)
    raise InvalidValue(f"argument {index} of the {what}, {_short(word)}, {kind(word)}; "
                       f"each argument must be a str (or an int, or a path)")


def arguments(words: list[str], *, what: str = "command") -> list[str]:
    """Arguments execve() can pass: no NUL, each and all together within the kernel's limits."""
    total = 0
    for i, word in enumerate(words):
        label = f"the {what}" if len(words) == 1 else f"argument {i} of the {what} ({_short(word)})"
        if "\0" in word:
            raise InvalidValue(f"{label} contains a NUL character; execve() ends every argument at "
                               f"NUL, so no program can receive it: remove it (send binary data "
                               f"base64-encoded on stdin, input=)")
        try:
            size = len(word.encode("utf-8", "surrogateescape")) + 1
        except UnicodeEncodeError as exc:
            raise InvalidValue(f"{label} holds {word[exc.start]!r}, which is no character (a lone "
                               f"surrogate) and cannot be passed to a program: remove it") from None
        if size > MAX_ARG_STRLEN:
            raise InvalidValue(f"{label} is {size - 1} bytes long; Linux takes at most "
                               f"{MAX_ARG_STRLEN - 1} bytes in one argument (MAX_ARG_STRLEN: execve "
                               f"fails with E2BIG, 'Argument list too long'); pass the data on stdin "
                               f"(input=) or write it to a file in the node")
        total += size
    if total > MAX_COMMAND:
        raise InvalidValue(f"the {what}'s {len(words)} arguments take {total} bytes; the lab runs commands "
                           f"of at most {MAX_COMMAND} bytes (1 MiB; Linux's own limit, a quarter of the "
                           f"stack limit, depends on the machine); pass the data on stdin (input=) or "
                           f"in a file")
    return words


def timeout(value) -> float | None:
    """Seconds to wait for a command: None (no limit) or a positive number up to a day."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValue(f"timeout={_short(value)} {kind(value)}, not a number of seconds; "
                           f"write e.g. timeout=30, or timeout=None to wait as long as the command runs")
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise InvalidValue(f"timeout={value!r} is out of range; give the seconds to wait, more than 0 "
                           f"and at most {MAX_TIMEOUT} (a day), e.g. timeout=30 (timeout=None: no limit)")
    return float(value)


def stdin(value) -> str | None:
    """What ``input=`` sends to a command: text (UTF-8 bytes are taken as the text they encode)."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode()
        except UnicodeDecodeError as exc:
            raise InvalidValue(f"input= holds bytes that are not UTF-8 text ({bytes(value)[exc.start:exc.start + 1]!r} "
                               f"at byte {exc.start}); the lab sends a command's input as text: send "
                               f"binary data base64-encoded, e.g. run('base64 -d > /tmp/data', "
                               f"input=base64.b64encode(data).decode())") from None
    if value is not None and not isinstance(value, str):
        raise InvalidValue(f"input={_short(value)} {kind(value)}; give the text for the "
                           f"command's standard input as a str")
    if value is not None:
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            raise InvalidValue(f"input= holds {value[exc.start]!r} at {exc.start}, which is no character "
                               f"(a lone surrogate) and cannot be sent: remove it") from None
    return value


def kind(value) -> str:
    """What a value is, for a message: "is None", "is bytes", "is a dict"."""
    if value is None or isinstance(value, bool):
        return f"is {value}"
    if isinstance(value, (bytes, bytearray)):
        return "is bytes"
    return f"is a {type(value).__name__}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the lab core's requests for the rest of the package ---------------------------------------
_MODULE = re.compile(r"^[a-z0-9_]{1,64}$")
_DAEMON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")  # as sandbox/daemons.py takes it
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def module_name(name) -> str:
    """A kernel module's name as modprobe knows it, e.g. 'br_netfilter'."""
    if not isinstance(name, str) or not _MODULE.match(name):
        raise InvalidName(f"kernel module name {_short(name)} is not usable: 1-64 lowercase letters, "
                          f"digits or '_', as /proc/modules lists it (e.g. 'br_netfilter')")
    return name


def daemon_name(name) -> str:
    """A lab daemon's name: its socket is /run/nethelpers/sockets/NAME (e.g. 'agent-docker-host')."""
    if not isinstance(name, str) or not _DAEMON.match(name):
        raise InvalidName(f"daemon name {_short(name)} is not usable: 1-101 letters, digits, '.', '_' "
                          f"or '-', starting with a letter or digit (e.g. 'agent-docker-host')")
    return name


def json_data(value, *, what: str):
    """Data that crosses to the sandbox as JSON: dicts with str keys, lists, str, numbers, bools, None."""
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(f"{what} cannot be sent as JSON ({exc}); use dicts with str keys, lists, "
                           f"str, int, float, bool and None") from None
    return value


def deadline(value) -> float:
    """Seconds to wait for an answer: like :func:`timeout`, but a limit is required."""
    if value is None:
        raise InvalidValue("timeout=None: this request needs a limit; give the seconds to wait, "
                           "e.g. timeout=10")
    return timeout(value)


def http_request(method, path) -> tuple[str, str]:
    """An HTTP method and request path, e.g. ('POST', '/Plugin.Activate')."""
    if method not in HTTP_METHODS:
        raise InvalidValue(f"HTTP method {_short(method)} is not one of {', '.join(HTTP_METHODS)}")
    if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() or not c.isprintable()
                                                                      for c in path):
        raise InvalidValue(f"HTTP path {_short(path)} should start with '/' and hold no spaces or "
                           f"control characters, e.g. '/Plugin.Activate'")
    return method, path


def socket_path(path) -> str:
    """An absolute path to a unix socket (the sandbox decides which directories it may use)."""
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise InvalidValue(f"socket path {_short(path)} should be an absolute path such as "
                           f"'/run/docker/plugins/NAME.sock'")
    return path


def dns_records(records) -> dict[str, list[str]]:
    """What a node's embedded DNS server answers: {name: [address, ...]}, e.g.
    ``{"web": ["172.18.0.3"]}``; given back with each address written as Python writes it."""
    example = "e.g. {'web': ['172.18.0.3'], 'db': ['172.18.0.4', '172.18.0.5']}"
    if not isinstance(records, dict):
        raise InvalidValue(f"DNS records {_short(records)} {kind(records)}; give a dict of names to "
                           f"lists of addresses, {example}")
    checked = {}
    for name, addresses in records.items():
        dns_name(name)
        if isinstance(addresses, str):
            raise InvalidValue(f"DNS name {name!r} maps to the str {addresses!r}; give a list of addresses, "
                               f"even for one: {{{name!r}: [{addresses!r}]}}")
        if not isinstance(addresses, (list, tuple)):
            raise InvalidValue(f"DNS name {name!r} maps to {_short(addresses)}, which {kind(addresses)}; "
                               f"give a list of addresses, {example}")
        checked[name] = [_record_address(name, a) for a in addresses]
    return checked


def _record_address(name: str, value) -> str:
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else None))
    except ValueError:
        raise InvalidAddress(f"DNS name {name!r}: {_short(value)} is not an IP address; write each "
                             f"address as a str like '172.18.0.3' (IPv4: answers A queries) or "
                             f"'fd00::3' (IPv6: AAAA)") from None


def dns_name(name) -> str:
    """A name a DNS server can answer: labels of 1-63 characters, 253 at most in all, no spaces."""
    if not isinstance(name, str) or not name.rstrip("."):
        raise InvalidName(f"DNS name {_short(name)} is not usable: give a name such as 'web' or 'web.net1'")
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if (len(name.rstrip(".")) > 253 or any(not 0 < len(label.encode()) <= 63 for label in labels)
            or any(c.isspace() or not c.isprintable() for c in name)):
        raise InvalidName(f"DNS name {_short(name)} is not usable: dot-separated labels of 1-63 "
                          f"characters, 253 in all, without spaces (e.g. 'web' or 'web.net1')")
    return name
