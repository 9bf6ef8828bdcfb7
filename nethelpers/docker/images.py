"""The images the lab knows, and what each one ships.

There are no real images: a container's processes run this machine's binaries. What an image
decides is its default command (``Config.Cmd``: what ``docker ps`` shows) and which programs it
has on its ``PATH``. A command the image lacks fails as Docker's runtime fails it
(``exec: "curl": executable file not found in $PATH``), so what works in the lab works on a real
machine with the same image: ``busybox`` has ``ping``, ``ip``, ``wget`` and ``nslookup`` but no
``curl``, ``dig``, ``ss``, ``tcpdump`` or ``python3``; ``nicolaka/netshoot`` (the network
troubleshooting image) has them all.

The lists hold the programs each image puts on its PATH that a networking course may reach
for; where a program is on the list, the lab runs the machine's program of that name (busybox's
own applets print differently: ``ip -br`` is iproute2's, which busybox's ``ip`` does not know).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .errors import DockerError

# busybox's applets in the image (docker-library/busybox builds busybox's defconfig): the
# everyday and networking ones
BUSYBOX = frozenset("""
[ [[ addgroup adduser arp arping ash awk base64 basename bc brctl cat chgrp chmod chown chroot cksum cmp cp
cpio crond cut date dc dd df diff dirname dmesg dnsdomainname du echo egrep env expr false fgrep find flock
free ftpget ftpput fuser getopt grep groups gunzip gzip halt hd head hexdump hostid hostname httpd hush id
ifconfig ifdown ifup inetd init install ip ipaddr ipcalc iplink ipneigh iproute iprule iptunnel kill killall
less link ln logger login logname ls lsof md5sum mkdir mkfifo mknod mktemp more mount mv nameif nc netstat
nice nl nohup nproc nsenter nslookup ntpd od passwd paste pgrep pidof ping ping6 pkill pmap printenv printf
ps pscan pwd rdate readlink realpath renice reset rev rm rmdir route run-parts sed seq setpriv setsid sh
sha1sum sha256sum sha512sum sleep sort split stat strings stty su sync sysctl tac tail tar tc tcpsvd tee
telnet telnetd test tftp time timeout top touch tr traceroute traceroute6 true truncate tty udhcpc udhcpd
udpsvd umount uname uniq unshare uptime usleep vconfig vi watch wc wget which who whoami whois xargs yes zcat
""".split())
# alpine: BusyBox (Alpine's configuration) with apk and musl's getent
ALPINE = (BUSYBOX - {"httpd", "telnet", "telnetd", "ftpget", "ftpput", "tftp", "inetd", "tcpsvd", "udpsvd",
                     "pscan", "whois", "arp", "route", "ifconfig", "netstat", "nameif", "vconfig", "brctl"}) \
    | {"apk", "getent", "ldconfig", "iconv", "scanelf", "ssl_client"}
# debian:bookworm / ubuntu:24.04: the essential packages only (no iproute2, iputils, curl, procps)
DEBIAN = frozenset("""
apt apt-get apt-cache bash cat chgrp chmod chown cp cut date dd df diff dirname dpkg du echo egrep env expr
false fgrep find getent grep groups gunzip gzip head hostname id install kill ln login ls md5sum mkdir mkfifo
mknod mktemp more mount mv nice nl nohup nproc od paste perl printenv printf pwd readlink realpath rm rmdir
sed seq setpriv sh sha1sum sha256sum sleep sort split stat stty su sync tac tail tar tee test timeout touch tr
true truncate tty umount uname uniq unshare wc which whoami xargs yes zcat dash
""".split())
# nicolaka/netshoot (its Dockerfile: Alpine with apache2-utils, bash, bind-tools, bridge-utils,
# busybox-extras, conntrack-tools, curl, ethtool, iperf, iperf3, iproute2, ipset, iptables,
# iputils, ipvsadm, jq, mtr, netcat-openbsd, nftables, ngrep, nmap, openssl, python3, scapy,
# socat, openssh, strace, tcpdump, tcptraceroute, tshark, util-linux, vim, zsh, ...)
NETSHOOT = ALPINE | frozenset("""
ab bash dig host nslookup delv brctl telnet conntrack curl drill ethtool fping iftop iperf iperf3 ip ss bridge
tc nstat rtmon ipset iptables ip6tables iptables-save iptables-restore iptables-legacy iptables-nft iptraf-ng
ping ping6 arping tracepath ipvsadm jq mtr nc nft ngrep nmap nping openssl pip3 python3 scapy socat ssh scp
strace tcpdump tcptraceroute tshark nsenter unshare lsns vim git zsh websocat swaks http file
""".split())


@dataclass(frozen=True)
class Image:
    """What the lab knows of one image: ``cmd`` is its ``Config.Cmd``; ``programs`` its PATH."""
    cmd: tuple[str, ...]
    programs: frozenset
    web: bool = False                       # serves HTTP on port 80 (the lab's Python web server)


IMAGES = {
    "busybox": Image(("sh",), BUSYBOX),
    "alpine": Image(("/bin/sh",), ALPINE),
    "ubuntu": Image(("/bin/bash",), DEBIAN),
    "debian": Image(("bash",), DEBIAN),
    "nicolaka/netshoot": Image(("zsh",), NETSHOOT),
    # python:3.13-slim (Debian with Python; its CMD is the interpreter)
    "python": Image(("python3",), DEBIAN | {"python", "python3", "pip", "pip3", "pydoc", "idle"}),
    # nginx:1.27 (Debian; its Dockerfile installs curl), httpd:2.4 (Debian, no curl)
    "nginx": Image(("nginx", "-g", "daemon off;"), DEBIAN | {"nginx", "curl"}, web=True),
    "httpd": Image(("httpd-foreground",), DEBIAN | {"httpd", "httpd-foreground", "apachectl"}, web=True),
}
SHELL_IMAGES = tuple(name for name, image in IMAGES.items() if not image.web)
WEB_IMAGES = tuple(name for name, image in IMAGES.items() if image.web)


def parse(reference: str) -> tuple[str, str]:
    """``nginx:1.27`` -> ("nginx", "1.27"); ``library/alpine`` -> ("alpine", "latest")."""
    name, _, tag = reference.rpartition(":") if ":" in reference.split("/")[-1] else (reference, "", "")
    if name.startswith("docker.io/"):
        name = name[len("docker.io/"):]
    if name.startswith("library/"):
        name = name[len("library/"):]
    if name not in IMAGES:
        known = ", ".join(IMAGES)
        raise DockerError(
            f"Unable to find image '{reference if tag else reference + ':latest'}' locally\n"
            f"docker: Error response from daemon: pull access denied for {name}, repository does not "
            f"exist or may require 'docker login'.\n"
            f"(The lab has no registry and no real images; it knows: {known}.)")
    return name, tag or "latest"


def has(image: str, program: str) -> bool:
    """Is ``program`` (a command's first word) found in the image? A path is taken as given."""
    return "/" in program or program in IMAGES[image].programs


def not_found(program: str) -> str:
    """The runtime's words (Go's exec.LookPath error, inside runc's and containerd's)."""
    return f'exec: "{program}": executable file not found in $PATH'


def default_command(image: str, container_name: str, keep_open: bool) -> tuple[list[str], list[str]]:
    """(what `docker ps` shows, what really runs) for an image run without a command.

    A shell image's shell exits at once without a terminal; with ``-i``/``-t`` it waits for
    input forever, which the lab stands in for with ``sleep infinity``.
    """
    known = IMAGES[image]
    if known.web:
        return list(known.cmd), [sys.executable, "-m", "nethelpers.programs.web", "--port", "80",
                                 "--name", container_name]
    if keep_open:
        return list(known.cmd), ["sleep", "infinity"]
    return list(known.cmd), ["true"]
