"""Images with their real contents: a program the image lacks fails as Docker fails it.

Expectations from the sources:
- the images' own definitions: nicolaka/netshoot's Dockerfile (Alpine with curl, bind-tools, iproute2,
  iperf3, tcpdump, python3 ...; WORKDIR /root, ENV HOSTNAME netshoot, CMD ["zsh"]);
  nginxinc/docker-nginx mainline/debian/Dockerfile (installs nginx, gettext-base and curl on
  debian:bookworm-slim; ENTRYPOINT /docker-entrypoint.sh, CMD nginx -g "daemon off;"); busybox has no
  curl, dig, ss or python3 (none is a BusyBox applet);
- moby docker-v29.7.2 ``daemon/exec.go`` ContainerExecStart: an exec that does not start exits 126
  (exitEaccess); integration-cli ``docker_cli_exec_test.go`` TestExecStartFails: the message holds
  "executable file not found";
- docker/cli v29.7.2 ``cli/command/container/run.go`` toStatusError (v27.5.1 runStartContainerErr):
  ``docker run`` exits 127 when the daemon's error says "executable file not found", with
  "Run 'docker run --help' for more information" (29) or "See 'docker run --help'." (27).
"""

from __future__ import annotations

import json

import pytest

from nethelpers.docker import DockerError
from nethelpers.docker import images


def test_exec_of_a_program_the_image_lacks(lab):
    lab.docker("run -dit --name c1 busybox")
    with pytest.raises(DockerError) as err:
        lab.docker("exec c1 curl -s http://203.0.113.10/")
    assert err.value.exit_code == 126
    assert 'exec: "curl": executable file not found in $PATH' in str(err.value)
    assert str(err.value).startswith("OCI runtime exec failed: ")
    with pytest.raises(DockerError) as err:           # -e does not hide it (env is not the program)
        lab.docker("exec -e A=1 c1 dig example.com")
    assert 'exec: "dig": executable file not found' in str(err.value)
    assert "hello from internet" in lab.docker("exec c1 wget -qO- http://203.0.113.10/")  # an applet
    assert lab.docker("exec c1 ping -c 1 -W 1 203.0.113.10").exit_code == 0


@pytest.mark.parametrize("version, help_line", [
    ("27", ".\nSee 'docker run --help'."),
    ("29", "\n\nRun 'docker run --help' for more information"),
])
def test_run_of_a_program_the_image_lacks(lab, version, help_line):
    lab.docker_host(version=version)
    with pytest.raises(DockerError) as err:
        lab.docker("run --name nocurl busybox curl http://203.0.113.10/")
    assert err.value.exit_code == 127
    text = str(err.value)
    assert text.startswith("docker: Error response from daemon: failed to create task for container: ")
    assert text.endswith('exec: "curl": executable file not found in $PATH: unknown' + help_line)
    assert "nocurl" not in lab.docker("ps -a")


def test_netshoot_has_the_tools(lab):
    lab.docker("network create --subnet 10.9.0.0/24 lan")
    lab.docker("run -dit --name t1 --network lan nicolaka/netshoot")
    lab.docker("run -dit --name t2 --network lan nicolaka/netshoot")
    assert "hello from internet" in lab.docker("exec t1 curl -s --max-time 3 http://203.0.113.10/")
    assert lab.docker("exec t1 dig +short +time=1 +tries=1 t2").split() == ["10.9.0.3"]
    assert lab.docker("exec t1 ss -H -ltn").exit_code == 0
    assert lab.docker("exec t1 python3 -c print(6*7)") == "42\n"
    config = json.loads(lab.docker("inspect -f '{{json .Config}}' t1"))
    assert config["Cmd"] == ["zsh"] and config["WorkingDir"] == "/root" and "HOSTNAME=netshoot" in config["Env"]
    assert lab.docker("ps --format '{{.Image}} {{.Command}}'").splitlines() == ['nicolaka/netshoot "zsh"'] * 2


def test_nginx_has_curl_but_no_ip(lab):
    lab.docker("run -d --name web nginx")
    assert "hello from web" in lab.docker("exec web curl -s http://127.0.0.1/")
    with pytest.raises(DockerError, match='exec: "ip": executable file not found'):
        lab.docker("exec web ip -br addr")


def test_a_path_is_taken_as_given_and_unknown_images_name_what_the_lab_knows(lab):
    lab.docker("run -dit --name c1 busybox")
    assert lab.docker("exec c1 /bin/echo hi") == "hi\n"
    with pytest.raises(DockerError) as err:
        lab.docker("run -d --name x1 nosuchimage")
    assert "pull access denied for nosuchimage" in str(err.value)
    assert all(name in str(err.value) for name in images.IMAGES)


def test_each_images_default_command_is_its_cmd(lab):
    """docker-library's Dockerfiles: busybox CMD ["sh"], alpine ["/bin/sh"], ubuntu ["/bin/bash"], debian
    ["bash"], python ["python3"]."""
    for name, image in (("b", "busybox"), ("a", "alpine"), ("u", "ubuntu"), ("d", "debian"), ("p", "python")):
        lab.docker(f"run -dit --name {name}1 {image}")
    got = dict(line.split(" ", 1) for line in lab.docker("ps --format '{{.Names}} {{.Command}}'").splitlines())
    assert got == {"b1": '"sh"', "a1": '"/bin/sh"', "u1": '"/bin/bash"', "d1": '"bash"', "p1": '"python3"'}
