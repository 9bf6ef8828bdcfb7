"""A container's capabilities: Docker's default set, ``--cap-add``, ``--cap-drop``, ``--privileged``.

Expectations from Docker's source:
- moby v27.5.1 ``oci/caps/defaults.go`` / docker-v29.7.2 ``daemon/pkg/oci/caps/defaults.go``
  DefaultCapabilities: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP
  NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE, i.e. the mask 0xa80425fb (no NET_ADMIN, bit 12);
- ``oci/caps/utils.go`` TweakCapabilities (privileged: all; ALL in adds or drops) and
  NormalizeLegacyCapabilities, called by daemon/container.go validateCapabilities
  ('invalid CapAdd: unknown capability: "CAP_FOO"');
- moby docker-v29.7.2 ``client/container_create.go`` normalizeCapabilities (29's CLI sends CapAdd
  upper-cased, CAP_-prefixed, deduplicated, sorted; v27.5.1's client sends them as typed);
- exec's ``--privileged`` (docker/cli cli/command/container/exec.go): that exec gets every capability.
"""

from __future__ import annotations

import json

import pytest

from nethelpers.docker import DockerError

DOCKER_DEFAULT_MASK = 0xA80425FB


def cap_masks(lab, name: str, *flags: str) -> dict[str, int]:
    out = lab.docker(["exec", *flags, name, "grep", "^Cap", "/proc/self/status"])
    return {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines()}


@pytest.mark.parametrize("version", ["27", "29"])
def test_the_default_set_has_no_net_admin(lab, version):
    lab.docker_host(version=version)
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    masks = cap_masks(lab, "c1")
    assert masks["CapEff"] == masks["CapBnd"] == DOCKER_DEFAULT_MASK and masks["CapInh"] == 0
    denied = lab.docker("exec c1 iptables -S")
    assert denied.exit_code != 0 and "Permission denied (you must be root)" in denied
    refused = lab.docker("exec c1 ip link set lo mtu 1400")
    assert refused.exit_code != 0 and "Operation not permitted" in refused
    ping = lab.docker("exec c1 ping -c 1 -W 1 127.0.0.1")   # NET_RAW is in the set
    assert ping.exit_code == 0
    assert lab.docker("exec --privileged c1 iptables -S").exit_code == 0
    assert cap_masks(lab, "c1", "--privileged")["CapEff"] & (1 << 12)


@pytest.mark.parametrize("version, shown", [("27", ["net_admin", "NET_ADMIN"]), ("29", ["CAP_NET_ADMIN"])])
def test_cap_add_as_each_client_sends_it(lab, version, shown):
    lab.docker_host(version=version)
    lab.docker("run -dit --name r1 --cap-add net_admin --cap-add NET_ADMIN nicolaka/netshoot")
    host_config = json.loads(lab.docker("inspect -f '{{json .HostConfig}}' r1"))
    assert host_config["CapAdd"] == shown and host_config["CapDrop"] is None
    assert host_config["Privileged"] is False
    assert cap_masks(lab, "r1")["CapEff"] == DOCKER_DEFAULT_MASK | (1 << 12)
    assert lab.docker("exec r1 ip link set lo mtu 1400").exit_code == 0


def test_drop_all_add_back_and_privileged(lab):
    lab.docker("run -dit --name bare --cap-drop ALL --cap-add NET_RAW nicolaka/netshoot")
    assert cap_masks(lab, "bare")["CapEff"] == 1 << 13                     # only CAP_NET_RAW
    lab.docker("run -dit --name nochown --cap-drop chown nicolaka/netshoot")
    assert cap_masks(lab, "nochown")["CapEff"] == DOCKER_DEFAULT_MASK & ~1  # CAP_CHOWN is bit 0
    lab.docker("run -dit --name priv --privileged nicolaka/netshoot")
    assert json.loads(lab.docker("inspect -f '{{json .HostConfig.Privileged}}' priv")) is True
    assert lab.docker("exec priv iptables -S").exit_code == 0


def test_host_mode_does_not_give_the_hosts_rules_away(lab):
    """Chapter 03's point: a host-mode container shares the host's network, but without NET_ADMIN
    it cannot read or change its firewall."""
    lab.docker("run -dit --name agent --network host nicolaka/netshoot")
    assert "Permission denied" in lab.docker("exec agent iptables -S")
    lab.docker("run -dit --name vpn --network host --cap-add NET_ADMIN nicolaka/netshoot")
    assert "-N DOCKER" in lab.docker("exec vpn iptables -S")


@pytest.mark.parametrize("version", ["27", "29"])
def test_an_unknown_capability_is_refused_at_create(lab, version):
    lab.docker_host(version=version)
    with pytest.raises(DockerError) as err:
        lab.docker("run -d --name c9 --cap-add foo nicolaka/netshoot")
    assert 'Error response from daemon: invalid CapAdd: unknown capability: "CAP_FOO"' in str(err.value)
    with pytest.raises(DockerError) as err:
        lab.docker("run -d --name c9 --cap-drop NET_FOO nicolaka/netshoot")
    assert 'invalid CapDrop: unknown capability: "CAP_NET_FOO"' in str(err.value)
    assert "c9" not in lab.docker("ps -a")
