"""Docker's embedded DNS (127.0.0.11): one resolver process, a socket pair in each container."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from nethelpers import AlreadyExists, InvalidAddress, KernelError, NotFound
from nethelpers.sandbox.dnsservice import DNSService

DIG = "dig +time=1 +tries=1 @127.0.0.11"
NAMES = {"c1": ["172.18.0.2"], "c2": ["172.18.0.3"], "web": ["172.18.0.3", "172.18.0.4"]}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/ → the repo


@pytest.fixture
def dns(lab):
    """Containers c1 and c2; c1 has 127.0.0.11 with NAMES, c2 has none."""
    c1, c2 = lab.add_node("c1", kind="container"), lab.add_node("c2", kind="container")
    lab._call("dns_attach", "c1")
    lab._call("dns_records", "c1", NAMES)
    return c1, c2


def dig(node, args: str):
    return node.run(f"{DIG} {args}", timeout=10)


def resolver_sockets(lab) -> int:
    """Sockets the lab's one resolver process holds (0 when it runs none)."""
    found = lab.run_in_sandbox("pgrep -P 1 -x lab-dns").stdout.split()
    assert len(found) <= 1, "one resolver for the whole lab, like dockerd"
    if not found:
        return 0
    fds = lab.run_in_sandbox(f"ls -l /proc/{found[0]}/fd").stdout
    return fds.count("socket:")


def kill_resolver(lab) -> str:
    """SIGKILL the lab's resolver, as a learner's ``pkill -9 lab-dns`` would; its pid."""
    found = lab.run_in_sandbox("pgrep -P 1 -x lab-dns").stdout.split()
    assert len(found) == 1
    assert lab.run_in_sandbox(f"kill -9 {found[0]}").rc == 0
    return found[0]


def test_a_record(dns):
    c1, _ = dns
    assert dig(c1, "+short c2").stdout.split() == ["172.18.0.3"]
    assert sorted(dig(c1, "+short web").stdout.split()) == ["172.18.0.3", "172.18.0.4"]


def test_answer_has_dockers_ttl_and_flags(dns):
    c1, _ = dns
    answer = dig(c1, "+noall +answer c2").stdout.split()
    assert answer == ["c2.", "600", "IN", "A", "172.18.0.3"]
    comments = dig(c1, "+noall +comments c2").stdout
    assert "status: NOERROR" in comments
    flags = comments.split("flags:")[1].split(";")[0].split()
    assert flags == ["qr", "rd", "ra"]  # recursion available, not authoritative


def test_unknown_name_is_servfail_without_external_servers(dns):
    """moby resolver.go serveDNS (v27.5.1, docker-v29.7.2): a name it does not know is forwarded;
    with no external server (this node's resolv.conf has no ExtServers line) ``resp == nil`` and
    the client gets ``SetRcode(query, RcodeServerFailure)``, without RA."""
    c1, _ = dns
    result = dig(c1, "+noall +comments nosuch")
    assert result.rc == 0
    assert "status: SERVFAIL" in result.stdout
    assert result.stdout.split("flags:")[1].split(";")[0].split() == ["qr", "rd"]


def test_names_ignore_case_and_trailing_dot(dns):
    c1, _ = dns
    assert dig(c1, "+short C2").stdout.split() == ["172.18.0.3"]
    assert dig(c1, "+short Web.").stdout.split()[0].startswith("172.18.0.")


def test_aaaa_of_a_known_name_is_empty_noerror(dns):
    c1, _ = dns
    result = dig(c1, "+noall +comments +answer AAAA c2").stdout
    assert "status: NOERROR" in result and "ANSWER: 0" in result


def test_tcp_several_queries_on_one_connection(dns):
    c1, _ = dns
    result = dig(c1, "+tcp +keepopen +short c1 c2")
    assert result.rc == 0
    assert result.stdout.split() == ["172.18.0.2", "172.18.0.3"]


def test_udp_answers_are_cut_at_512_bytes_or_the_clients_edns0_size(lab):
    """moby v27.5.1 libnetwork/resolver.go: a local answer is truncated to ``dns.MinMsgSize``
    (512, RFC 1035 4.2.1) over UDP, or to the UDP size of the query's EDNS(0) OPT record
    (RFC 6891) when larger, and to ``dns.MaxMsgSize`` over TCP. 40 A records make a 662-byte
    answer: cut (TC set) without EDNS(0) or with a 600-byte offer; whole with dig's default
    EDNS(0) offer (1232) and over TCP."""
    c1 = lab.add_node("c1", kind="container")
    lab._call("dns_attach", "c1")
    many = [f"172.18.1.{i}" for i in range(1, 41)]
    lab._call("dns_records", "c1", {"many": many})

    def flags_and_count(options: str) -> tuple[list[str], int]:
        out = dig(c1, f"{options} +noall +comments +answer many").stdout
        flags = out.split("flags:")[1].split(";")[0].split()
        return flags, sum(1 for line in out.splitlines() if line.startswith("many.") and " A " in line.replace("\t", " "))

    for cut in ("+noedns +ignore", "+bufsize=600 +ignore"):
        flags, count = flags_and_count(cut)
        assert "tc" in flags and count < 40, (cut, flags, count)
    for whole in ("+ignore", "+bufsize=1232 +ignore", "+tcp"):   # +ignore: no retry over TCP
        flags, count = flags_and_count(whole)
        assert "tc" not in flags and count == 40, (whole, flags, count)

def test_ptr(dns):
    c1, _ = dns
    assert dig(c1, "+short -x 172.18.0.2").stdout.split() == ["c1."]
    # moby network.go updateSvcRecord: only an endpoint's first name gets the PTR record
    assert dig(c1, "+short -x 172.18.0.3").stdout.split() == ["c2."]
    # an address it does not know is forwarded (handlePTRQuery returns nil): none to ask here
    assert "status: SERVFAIL" in dig(c1, "+noall +comments -x 172.18.0.9").stdout


def test_node_not_attached_gets_no_answer(dns):
    _, c2 = dns
    assert dig(c2, "+short c1").rc != 0


def test_one_process_for_all_nodes(dns, lab):
    lab._call("dns_attach", "c2")
    assert dig(dns[1], "+short c1").rc == 0  # attached, but no names yet
    assert resolver_sockets(lab) == 4  # UDP + TCP in each of c1 and c2


def test_detach_closes_the_sockets(dns, lab):
    c1, _ = dns
    holder = c1.start("python3 -c \"import socket, time; s = socket.create_connection(('127.0.0.11', 53)); "
                      "print('connected', flush=True); time.sleep(300)\"")
    holder.wait_for("connected")
    assert resolver_sockets(lab) == 3  # UDP, listening TCP, the holder's connection
    lab._call("dns_detach", "c1")
    assert resolver_sockets(lab) == 0
    assert dig(c1, "+short c2").rc != 0
    lab._call("dns_attach", "c1")  # and again: nothing there is left over
    assert dig(c1, "+noall +comments c2").rc == 0


def test_removing_an_attached_node_closes_its_sockets(dns, lab):
    lab._call("dns_attach", "c2")
    assert resolver_sockets(lab) == 4
    lab.remove_node("c1")
    assert resolver_sockets(lab) == 2
    lab.add_node("c1")
    lab._call("dns_attach", "c1")
    lab._call("dns_records", "c1", {"c2": ["172.18.0.3"]})
    assert dig(lab.node("c1"), "+short c2").stdout.split() == ["172.18.0.3"]


def test_records_are_replaced(dns, lab):
    c1, _ = dns
    lab._call("dns_records", "c1", {"db": ["172.18.0.5"]})
    assert dig(c1, "+short db").stdout.split() == ["172.18.0.5"]
    assert "status: SERVFAIL" in dig(c1, "+noall +comments c2").stdout  # forwarded: none to ask


def test_errors_name_cause_and_fix(dns, lab):
    with pytest.raises(NotFound, match="no node 'ghost'"):
        lab._call("dns_attach", "ghost")
    with pytest.raises(NotFound, match="no node 'ghost'"):
        lab._call("dns_records", "ghost", {})
    with pytest.raises(AlreadyExists, match="already.*detach it first") as taken:
        lab._call("dns_attach", "c1")
    with pytest.raises(NotFound, match="no DNS server.*attach one first") as missing:
        lab._call("dns_records", "c2", NAMES)
    with pytest.raises(NotFound, match="no DNS server.*attach one first"):
        lab._call("dns_detach", "c2")
    assert "_call" not in str(taken.value) + str(missing.value)  # no private call as the fix
    assert "lab.node('c1').stop_resolver()" in str(taken.value)   # the public way, and Docker's
    assert "lab.node('c2').start_resolver()" in str(missing.value)
    assert "docker network disconnect" in str(taken.value) and "docker network connect" in str(missing.value)
    with pytest.raises(InvalidAddress, match="'nonsense'"):
        lab._call("dns_records", "c1", {"x": ["nonsense"]})
    assert dig(dns[0], "+short c2").stdout.split() == ["172.18.0.3"]  # still serving


def test_malformed_datagrams_do_not_kill_it(dns):
    c1, _ = dns
    garbage = [b"", b"\x00", b"\xff" * 3, b"\x12\x34" + b"\xff" * 10,
               b"\x00\x01\x01\x00\x00\x05" + b"\x00" * 6,  # a header promising 5 questions
               os.urandom(300)]
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            f"[s.sendto(p, ('127.0.0.11', 53)) for p in {garbage!r}]; "
            "t = socket.create_connection(('127.0.0.11', 53)); t.sendall(b'\\x00\\x05hello\\x00'); t.close()")
    assert c1.run(["python3", "-c", code]).rc == 0
    assert dig(c1, "+short c2").stdout.split() == ["172.18.0.3"]
    assert dig(c1, "+tcp +short c2").stdout.split() == ["172.18.0.3"]


def test_control_protocol_errors_and_eof():
    """The resolver alone (no namespace needed): bad requests get an error line, EOF ends it."""
    requests = ["not json", '{"op": "fly"}', '{"op": "detach", "key": "c9"}',
                '{"op": "records", "key": "c9", "names": {}}']
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-m", "nethelpers.sandbox.dns"], env=env, timeout=10, check=False,
                          input="\n".join(requests) + "\n", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["ok"] for r in replies] == [False] * 4
    assert "not attached" in replies[2]["error"]


# --- a resolver that dies -------------------------------------------------------------
REQUESTS = {"attach": lambda lab: lab._call("dns_attach", "c2"),
            "records": lambda lab: lab._call("dns_records", "c1", {"db": ["172.18.0.5"]}),
            "detach": lambda lab: lab._call("dns_detach", "c1")}


@pytest.mark.parametrize("request_", sorted(REQUESTS))
def test_any_request_replaces_a_killed_resolver(dns, lab, request_):
    """The next request of any kind starts a new resolver and gives it every node's names again."""
    c3 = lab.add_node("c3", kind="container")
    lab._call("dns_attach", "c3")
    lab._call("dns_records", "c3", NAMES)
    old = kill_resolver(lab)
    REQUESTS[request_](lab)  # (sent at once: before the sandbox's idle loop would replace it)
    assert dig(c3, "+short c2").stdout.split() == ["172.18.0.3"]  # an untouched node's names, given again
    assert lab.run_in_sandbox("pgrep -P 1 -x lab-dns").stdout.split() != [old]
    assert resolver_sockets(lab) == {"attach": 6, "records": 4, "detach": 2}[request_]


def test_a_killed_resolver_is_replaced_between_requests(dns, lab):
    """Without any DNS request: the sandbox's idle loop finds it dead and starts a new one."""
    old = kill_resolver(lab)
    time.sleep(0.5)
    c1 = lab.node("c1")
    assert dig(c1, "+short c2").stdout.split() == ["172.18.0.3"]
    assert lab.run_in_sandbox("pgrep -P 1 -x lab-dns").stdout.split() not in ([], [old])


def test_containers_resolve_again_after_the_resolver_is_killed(docker_lab):
    """As with Docker's resolver (part of dockerd, always there): no error, and old and new
    containers resolve each other."""
    lab = docker_lab
    lab.docker("network create n1")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    kill_resolver(lab)
    started = time.monotonic()
    lab.docker("run -dit --name c2 --network n1 nicolaka/netshoot")
    assert time.monotonic() - started < 5   # not the 10 s (DNSService.TIMEOUT) of waiting for a dead one
    assert lab.docker(f"exec c2 {DIG} +short c1").split() == ["172.18.0.2"]
    assert lab.docker(f"exec c1 {DIG} +short c2").split() == ["172.18.0.3"]  # an old one, a new name


def test_a_resolver_that_keeps_dying_is_given_up(tmp_path):
    """The service alone, with real resolver processes that hang at every start (opening a FIFO
    nobody writes, as the node's namespace): replaced a bounded number of times, then a
    KernelError says so and how to recover; after that, each request tries once more."""
    fifo = str(tmp_path / "netns")
    os.mkfifo(fifo)
    service = DNSService()
    service.TIMEOUT = 0.3
    with pytest.raises(KernelError, match="keeps dying: it died or hung 4 times in a row") as caught:
        service.attach("c1", fifo)          # the first and RESTARTS=3 new ones: a bounded number
    message = str(caught.value)
    assert "printed last: (nothing)" in message and "lab.close(), then lab = Lab()" in message
    assert "_call" not in message
    assert service.nodes == {} and service.popen is None  # nothing left half-attached or running
    with pytest.raises(KernelError, match="5 times in a row"):   # one more try, not RESTARTS more
        service.attach("c1", fifo)
