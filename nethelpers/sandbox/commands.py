"""What runs for a command in a node: its argv (a string runs through /bin/sh; a tool that is
not installed is named with the package that brings it) and its environment.
"""

from __future__ import annotations

import os
import shlex
import sys

from ..errors import MissingFeature
from ..i18n import _


# root's usual PATH, then the directory of the Python running the lab (on Binder the
# only python3 there is), so that `python3 -m http.server` works in a node anywhere
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + os.path.dirname(sys.executable)

# which Debian/Ubuntu package brings a tool the lessons use
PACKAGES = {
    "ip": "iproute2", "bridge": "iproute2", "ss": "iproute2", "tc": "iproute2",
    "iptables": "iptables", "iptables-save": "iptables", "ip6tables": "iptables",
    "nft": "nftables", "tcpdump": "tcpdump", "ping": "iputils-ping", "arping": "iputils-arping",
    "iperf3": "iperf3", "conntrack": "conntrack", "nc": "netcat-openbsd", "curl": "curl",
    "dig": "bind9-dnsutils", "nslookup": "bind9-dnsutils", "wget": "wget", "ethtool": "ethtool",
}


# where the nethelpers package lives: the lab's own programs (docker-proxy, the web
# server) run as `python -m nethelpers...` in nodes, installed or not
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "TERM", "USER", "LOGNAME")}
    env.update(PATH=PATH, LC_ALL="C.UTF-8", LANG="C.UTF-8", PYTHONUNBUFFERED="1",
               PYTHONPATH=PACKAGE_ROOT)
    return env


def argv_of(command: str | list[str]) -> list[str]:
    """A list runs as is; a string runs through /bin/sh (pipes, redirections, &&)."""
    if isinstance(command, (list, tuple)):
        argv = [str(a) for a in command]
        program = argv[0]
    else:
        argv = ["/bin/sh", "-c", command]
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            words = []  # unbalanced quotes: let the shell say what is wrong
        # the first word as the shell sees it: "true;" runs true, "now()" defines a function
        program = words[0].rstrip(";&|") if words else ""
        if program.endswith("()"):
            program = ""
    if program and "=" not in program and not _is_shell_word(program) \
            and not _on_path(program):
        package = PACKAGES.get(os.path.basename(program))
        fix = (_("install it: sudo apt-get install {package}").format(package=package) if package
               else _("install it or check the spelling"))
        raise MissingFeature(_("{program} is not installed on this machine; {fix}").format(
            program=repr(program), fix=fix))
    return argv


def _on_path(program: str) -> bool:
    """Whether ``program`` runs, as exec looks it up (shutil.which, without importing shutil and
    the compression modules it loads: the VM backend's agent imports this module at boot)."""
    candidates = [program] if "/" in program else [os.path.join(d, program) for d in PATH.split(":") if d]
    return any(os.path.isfile(path) and os.access(path, os.X_OK) for path in candidates)


def _is_shell_word(word: str) -> bool:
    return word in {"cd", "echo", "exit", "export", "for", "if", "while", "set", "test", "[",
                    "true", "false", "read", "sleep", "exec", "trap", "wait", "kill", "{", "(",
                    "printf", "type", "command", "ulimit", "umask", "."} or word.startswith("(")
