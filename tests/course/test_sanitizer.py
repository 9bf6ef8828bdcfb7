"""notebooks/nbval_sanitize.cfg masks what varies from run to run, and nothing a reviewer would call content.

Each rule is tied here to the kind of line it names — the tool's own output format (iputils ping,
tcpdump, iproute2's ip neigh, conntrack-tools) — and must (1) mask something in the stored notebooks,
(2) touch only lines of that kind there, and (3) leave alone look-alikes that are content: a VXLAN id,
the tracer's fixed port, a prefix length, a conntrack protocol number. The rules are read with nbval's
own parser and applied as nbval applies them (in order, re.sub, no flags).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CONFIG = NOTEBOOKS / "nbval_sanitize.cfg"

# What nbval does not compare (nbval/plugin.py, IPyNbFile.__init__'s skip_compare, without --nbdime).
NOT_COMPARED = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}

# rule -> the only kind of line it may change: a full-line pattern of the tool's output format.
LINES = {
    # iputils ping: "64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.061 ms" (also "from c3 (172.18.0.2)")
    "ping-rtt": r"[0-9]+ bytes from [^ ]+( \([0-9.]+\))?: icmp_seq=[0-9]+ ttl=[0-9]+ time=[0-9.]+ ms",
    # "1 packets transmitted, 1 received, [+1 errors, ]0% packet loss, time 0ms"
    "ping-summary-time": r"[0-9]+ packets transmitted, [0-9]+ received,( \+[0-9]+ errors,)? [0-9.]+% packet loss,"
                         r" time [0-9]+ms",
    "ping-statistics": r"rtt min/avg/max/mdev = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms",
    # tcpdump -n: "12:37:13.672981 IP 10.0.0.2 > 203.0.113.10: ICMP echo request, id 23, seq 1, length 64"
    "tcpdump-timestamp": r"[0-9:.]{15} (IP6?|ARP,) .*",
    "tcpdump-icmp-echo-id": r"([0-9:.]{15}|HH:MM:SS\.ffffff) IP6? [0-9.]+ > [0-9.]+: ICMP echo (request|reply),"
                            r" id [0-9]+, seq [0-9]+, length [0-9]+",
    "tcpdump-filter-count": r"[0-9]+ packets? received by filter",
    # ip neigh: "10.0.0.1 [dev eth0 ]lladdr 02:5b:90:19:9f:cf DELAY "
    "neighbour-state": r"[0-9.]+ (dev [^ ]+ )?lladdr [0-9a-f:]{17} (REACHABLE|STALE|DELAY|PROBE) ?",
    # conntrack -L: "tcp      6 119 TIME_WAIT src=..."; "icmp     1 29 src=..."
    "conntrack-timeout": r"(icmp|tcp|udp) +[0-9]+ [0-9]+ ([A-Z_]+ )?src=.*",
    "conntrack-icmp-echo-id": r"icmp +[0-9]+ ([0-9]+|TIMEOUT) src=.* type=8 code=0 id=[0-9]+ .*",
    # conntrack -L and the tracer's "conntrack: original ... reply ..." line
    "ephemeral-port": r".*\bsrc=[0-9.]+ dst=[0-9.]+ sport=[0-9]+ dport=[0-9]+.*",
    # backends.py: where the lab runs, which names this machine's kernel release; in the VM backend
    # nbval sees the boot's first progress line (vm/progress.py), which the notebook then updates in place
    "lab-backend": r"Lab: (network namespaces on this machine's kernel|in a Linux VM|starting a Linux VM"
                   r"|本机内核上的网络命名空间|在 Linux 虚拟机中|正在启动 Linux 虚拟机).*",  # (the Chinese edition's)
    # iptables' own error lines name its version (Debian 12: 1.8.9, Ubuntu 24.04: 1.8.10):
    # "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)"
    "iptables-version": r"iptables v[0-9.]+ \((nf_tables|legacy)\): .*",
    # kubectl's tables (cli-runtime's tabwriter, 3 spaces between columns): a row with an AGE cell of
    # HumanDuration's seconds, 0s-99s, in a column 3 wide ("kubernetes   ClusterIP   10.96.0.1   ...   12s")
    "kubectl-age": r"[a-z0-9][-a-z0-9.]*( {3,}[^ ]+( [^ ]+)*)* {3,}[0-9]{1,2}s( {3,}[^ ]+( [^ ]+)*)*",
    # the CNI bridge plugin's host-side veth: "veth" and 4 random bytes in hex (plugins ip.RandomVethName),
    # in the tracer's table and ip's listings
    "cni-veth-name": r".*\bveth[0-9a-f]{8}\b.*",
}

# Look-alikes that are content: no rule may change them.
CONTENT = [
    "    vxlan id 4097 srcport 0 0 dstport 4789 proxy l2miss l3miss ttl auto ageing 300",
    "vxlan id 42 local 198.51.100.10 dev eth0 srcport 0 0 dstport 4789",
    "    conntrack: original src=198.51.100.20 dst=198.51.100.10 sport=40404 dport=8080, reply src=10.0.0.2 "
    "dst=198.51.100.20 sport=80 dport=40404",
    "src=198.51.100.11 dst=198.51.100.20 sport=5201 dport=80",   # servers' ports stay
    "10.0.0.1 lladdr 02:5b:90:19:9f:cf PERMANENT",
    "198.51.100.50 dev eth0 INCOMPLETE",
    "inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0",
    "tcp 6 bytes", "the tracer waited 3 seconds", "0x0800", "12:37:13 is a time of day, not tcpdump's",
    "Created 2 containers", "curl: (28) Connection timed out after 3001 milliseconds",
    "    Lab: a word in prose", "    Lab: 本机内核上的网络命名空间 in prose",
    "iptables -S shows the rules; iptables v1.8.9 is in prose here",
    "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.   5s is not a kubectl cell",
    "veth1234567@if5   UP   (Docker's veths: 7 hex digits, drawn by the lab)",
    "hello-7486966955-fwchr   1/1     Running   0          12m   10.244.1.4   node2",
]


def rules() -> list[tuple[str, str, str]]:
    """(name, regex, replacement) as nbval reads them, in order."""
    text = CONFIG.read_text()
    names = re.findall(r"^\[(.+)\]$", text, flags=re.MULTILINE)
    patterns = get_sanitize_patterns(text)
    assert len(names) == len(patterns), "every [name] has one regex: and one replace: line"
    return [(name, regex, replace) for name, (regex, replace) in zip(names, patterns)]


def stored_outputs():
    """(notebook, cell index, text) for every output text nbval compares."""
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(NOTEBOOKS.glob("zh-CN/*.ipynb")):
        for index, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            for output in cell.get("outputs", []):
                for key, value in output.items():
                    if key in NOT_COMPARED:
                        continue
                    items = value.items() if key == "data" else [(key, value)]
                    for kind, text in items:
                        if kind not in NOT_COMPARED and isinstance(text, (str, list)):
                            yield notebook.name, index, "".join(text)


def touched_lines(regex: str, text: str) -> list[str]:
    """The whole lines in which regex matches."""
    lines = []
    for match in re.finditer(regex, text):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        lines.append(text[start:len(text) if end < 0 else end])
    return lines


def masked_as_nbval_does(text: str) -> dict[str, list[str]]:
    """Apply every rule in order; the lines each rule touched (seen after the rules before it)."""
    touched = {}
    for name, regex, replace in rules():
        touched[name] = touched_lines(regex, text)
        text = re.sub(regex, replace, text)
    return touched


def test_every_rule_is_tied_to_a_kind_of_line():
    assert [name for name, _, _ in rules()] == list(LINES)


@pytest.mark.parametrize("name", list(LINES))
def test_each_rule_masks_something_stored_and_only_lines_of_its_kind(name):
    touched = [(notebook, index, line) for notebook, index, text in stored_outputs()
               for line in masked_as_nbval_does(text)[name]]
    assert touched, f"{name} masks nothing in the stored notebooks: remove it"
    wrong = [t for t in touched if not re.fullmatch(LINES[name], t[2])]
    assert not wrong, f"{name} also masks lines that are not {LINES[name]!r}: {wrong[:5]}"


@pytest.mark.parametrize("line", CONTENT)
def test_content_that_looks_alike_is_left_alone(line):
    for name, regex, replace in rules():
        assert re.sub(regex, replace, line) == line, f"{name} changes {line!r}"


@pytest.mark.parametrize("before, after", [
    ("64 bytes from c3 (172.18.0.2): icmp_seq=1 ttl=64 time=0.115 ms",
     "64 bytes from c3 (172.18.0.2): icmp_seq=1 ttl=64 time=T ms"),
    ("1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms",
     "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time Tms"),
    ("rtt min/avg/max/mdev = 0.051/0.056/0.061/0.005 ms", "rtt min/avg/max/mdev = T ms"),
    ("12:37:14.756955 IP 203.0.113.10 > 198.51.100.10: ICMP echo reply, id 29, seq 1, length 64",
     "HH:MM:SS.ffffff IP 203.0.113.10 > 198.51.100.10: ICMP echo reply, id ID, seq 1, length 64"),
    ("12:37:30.651190 ARP, Request who-has 198.51.100.50 tell 198.51.100.10, length 28",
     "HH:MM:SS.ffffff ARP, Request who-has 198.51.100.50 tell 198.51.100.10, length 28"),
    ("3 packets captured\n1 packet received by filter", "3 packets captured\nN packets received by filter"),
    ("198.51.100.50 dev eth0 lladdr 02:50:d1:1a:8c:3e STALE ", "198.51.100.50 dev eth0 lladdr 02:50:d1:1a:8c:3e NUD-STATE "),
    # the timeout only, not the protocol number; and on any line, not only the first (nbval uses no flags)
    ("udp      17 29 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=53\n"
     "tcp      6 119 TIME_WAIT src=172.17.0.2 dst=203.0.113.10 sport=37062 dport=80",
     "udp      17 TIMEOUT src=10.0.0.2 dst=10.0.0.1 sport=53 dport=53\n"
     "tcp      6 TIMEOUT TIME_WAIT src=172.17.0.2 dst=203.0.113.10 sport=EPHEMERAL dport=80"),
    ("icmp     1 29 src=10.0.0.2 dst=203.0.113.10 type=8 code=0 id=29 src=203.0.113.10 dst=198.51.100.10 "
     "type=0 code=0 id=29 mark=0 use=1",
     "icmp     1 TIMEOUT src=10.0.0.2 dst=203.0.113.10 type=8 code=0 id=ID src=203.0.113.10 dst=198.51.100.10 "
     "type=0 code=0 id=ID mark=0 use=1"),
    ("Lab: starting a Linux VM", "Lab: (where this lab runs: namespaces or a VM, and why)"),
    ("Lab: network namespaces on this machine's kernel (Linux 6.1.0-40-amd64, rootless, in a user namespace).",
     "Lab: (where this lab runs: namespaces or a VM, and why)"),
    # Linux's default ephemeral range is 32768-60999 (net.ipv4.ip_local_port_range)
    ("sport=32768 dport=60999 sport=32767 dport=61000", "sport=EPHEMERAL dport=EPHEMERAL sport=32767 dport=61000"),
    ("iptables v1.8.10 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)",
     "iptables vX.Y.Z (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)"),
    # kubectl: the AGE cell and its padding are one width whatever the seconds (HumanDuration: "Ns" below 120 s)
    ("node1   Ready    control-plane   0s    v1.37.1\nnode2   Ready    <none>          12s   v1.37.1",
     "node1   Ready    control-plane   AGE   v1.37.1\nnode2   Ready    <none>          AGE   v1.37.1"),
    ("kubernetes    IPv4          6443    198.51.100.10                      1s",
     "kubernetes    IPv4          6443    198.51.100.10                      AGE"),
    ("2  node2   veth5f1827e6 (cni0)  eth0  routed", "2  node2   vethXXXXXXXX (cni0)  eth0  routed"),
])
def test_what_varies_is_masked(before, after):
    for _, regex, replace in rules():
        before = re.sub(regex, replace, before)
    assert before == after
