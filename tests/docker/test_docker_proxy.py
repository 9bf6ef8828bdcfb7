"""The lab's docker-proxy and web server, run in real lab nodes.

Node a plays the Docker host (the proxy listens there), node b the container.
Every network operation is bounded: curl --max-time, socket timeouts, timeout=.
"""

from __future__ import annotations

import sys

PY = sys.executable

BIND_FAILED = "docker-proxy: Bind for 0.0.0.0:8080 failed: port is already allocated"


def proxy_argv(proto: str, host_port: int, container_ip: str, container_port: int,
               host_ip: str = "0.0.0.0") -> list[str]:
    return [PY, "-m", "nethelpers.programs.docker_proxy", "-proto", proto, "-host-ip", host_ip,
            "-host-port", str(host_port), "-container-ip", container_ip,
            "-container-port", str(container_port)]


def start_proxy(node, *args, **kwargs):
    proxy = node.start(proxy_argv(*args, **kwargs))
    proxy.wait_for("listening", timeout=10)
    return proxy


def start_web(node, name: str, port: int = 80):
    web = node.start([PY, "-m", "nethelpers.programs.web", "--port", str(port), "--name", name])
    web.wait_for(f"web: serving on port {port}", timeout=10)
    return web


def curl(node, url: str):
    return node.run(f"curl -s --max-time 3 {url}", timeout=10)


def test_web_says_who_it_is_and_who_came(pair):
    a, b = pair
    web = start_web(b, "web-b")
    r = curl(a, "http://10.0.0.2/some/path")
    assert r.rc == 0 and r.stdout == "hello from web-b\nyou came from 10.0.0.1\n"
    assert a.run("curl -s --max-time 3 -o /dev/null -w '%{http_code}' -I http://10.0.0.2/",
                 timeout=10).stdout == "200"
    log = web.stop()
    assert log.splitlines()[:3] == ["web: serving on port 80",
                                    '10.0.0.1 "GET /some/path HTTP/1.1" 200',
                                    '10.0.0.1 "HEAD / HTTP/1.1" 200']


def test_tcp_proxy_from_the_host_to_the_container(pair):
    a, b = pair
    web = start_web(b, "web-b")
    proxy = start_proxy(a, "tcp", 8080, "10.0.0.2", 80)
    assert proxy.output == "docker-proxy: listening on tcp 0.0.0.0:8080 -> 10.0.0.2:80\n"
    r = curl(a, "http://127.0.0.1:8080/")
    # the container sees the proxy's own connection, from a's address on that link
    assert r.rc == 0 and r.stdout == "hello from web-b\nyou came from 10.0.0.1\n"
    assert '10.0.0.1 "GET / HTTP/1.1" 200' in web.output
    out = proxy.stop()
    assert "Traceback" not in out
    web.stop()


def test_tcp_half_close_goes_through(pair):
    """The client sends, then shuts down its sending side; the server answers only after
    it has read the end of the stream, so the proxy must pass the half-close on."""
    a, b = pair
    server = b.start([PY, "-c", (
        "import socket\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('0.0.0.0', 7000)); s.listen(); s.settimeout(10)\n"
        "print('server ready', flush=True)\n"
        "c, _ = s.accept(); c.settimeout(10); data = b''\n"
        "while True:\n"
        "    d = c.recv(65536)\n"
        "    if not d: break\n"
        "    data += d\n"
        "c.sendall(b'got %d bytes' % len(data)); c.close()\n")])
    server.wait_for("server ready", timeout=10)
    proxy = start_proxy(a, "tcp", 7001, "10.0.0.2", 7000)
    r = a.run([PY, "-c", (
        "import socket\n"
        "c = socket.create_connection(('127.0.0.1', 7001), timeout=3)\n"
        "c.sendall(b'x' * 1000000); c.shutdown(socket.SHUT_WR); reply = b''\n"
        "while True:\n"
        "    d = c.recv(65536)\n"
        "    if not d: break\n"
        "    reply += d\n"
        "print(reply.decode())\n")], timeout=15)
    assert (r.rc, r.stdout) == (0, "got 1000000 bytes\n"), r.output
    proxy.stop()
    server.stop()


def test_a_refused_upstream_closes_the_client(pair):
    a, b = pair
    proxy = start_proxy(a, "tcp", 8080, "10.0.0.2", 81)  # nothing listens on b:81
    r = curl(a, "http://127.0.0.1:8080/")
    # curl connected (to the proxy), then the proxy closed: "empty reply" (52), or
    # "connection reset" (56) when curl's request was still unread in the proxy's socket
    assert r.rc in (52, 56) and r.stdout == ""
    assert proxy.running
    assert "Connection refused" in proxy.stop()


def test_second_proxy_on_the_same_port_fails_and_stopping_frees_it(pair):
    a, b = pair
    first = start_proxy(a, "tcp", 8080, "10.0.0.2", 80)
    r = a.run(proxy_argv("tcp", 8080, "10.0.0.2", 80), timeout=10)
    assert r.rc == 1 and r.output.strip() == BIND_FAILED
    out = first.stop()
    assert not first.running and "Traceback" not in out
    again = start_proxy(a, "tcp", 8080, "10.0.0.2", 80)
    again.stop()


def test_udp_proxy_relays_replies_per_client(pair):
    a, b = pair
    echo = b.start([PY, "-c", (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5300))\n"
        "s.settimeout(20)\n"
        "print('echo ready', flush=True)\n"
        "for _ in range(10):\n"
        "    data, peer = s.recvfrom(2048)\n"
        "    s.sendto(b'echo %s from %s:%d' % (data, peer[0].encode(), peer[1]), peer)\n")])
    echo.wait_for("echo ready", timeout=10)
    proxy = start_proxy(a, "udp", 5301, "10.0.0.2", 5300)
    assert proxy.output == "docker-proxy: listening on udp 0.0.0.0:5301 -> 10.0.0.2:5300\n"
    r = a.run([PY, "-c", (
        "import socket\n"
        "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(2)\n"
        "for word in (b'one', b'two'):\n"
        "    c.sendto(word, ('127.0.0.1', 5301))\n"
        "    print(c.recv(2048).decode())\n")], timeout=10)
    assert r.rc == 0, r.output
    first, second = r.stdout.splitlines()
    assert first.startswith("echo one from 10.0.0.1:") and second.startswith("echo two from 10.0.0.1:")
    # one client, one upstream socket: the container saw the same source port twice
    assert first.rsplit(":", 1)[1] == second.rsplit(":", 1)[1]
    out = proxy.stop()
    assert "Traceback" not in out
    # stopped: the port is free again for another proxy
    start_proxy(a, "udp", 5301, "10.0.0.2", 5300).stop()
    echo.stop()


def test_udp_bind_failure_says_so(pair):
    a, b = pair
    first = start_proxy(a, "udp", 5301, "10.0.0.2", 5300)
    r = a.run(proxy_argv("udp", 5301, "10.0.0.2", 5300), timeout=10)
    assert r.rc == 1
    assert r.output.strip() == "docker-proxy: Bind for 0.0.0.0:5301 failed: port is already allocated"
    first.stop()
