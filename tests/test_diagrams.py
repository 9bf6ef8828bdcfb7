"""What the chapter 07 helpers hide from printed output, and what they keep."""

from nethelpers.diagrams import mask


def test_mask_hides_random_macs_and_veth_names_but_keeps_docker_macs():
    text = "02:42:ac:11:00:02 02:42:0a:00:01:05 02:42:c0:a8:01:02 aa:bb:cc:dd:ee:ff veth1a2b3c4d"
    assert mask(text) == ("02:42:ac:11:00:02 02:42:0a:00:01:05 02:42:c0:a8:01:02 xx:xx:xx:xx:xx:xx veth…")


def test_a_random_mac_that_starts_like_dockers_is_still_masked():
    # The kernel's random MACs start with 02:42 once in 16384; CI once printed one (02:42:e1:3e:1f:97).
    assert mask({"mac": "02:42:e1:3e:1f:97"}) == {"mac": "xx:xx:xx:xx:xx:xx"}
    assert mask("02:42:ac:30:00:01") == "xx:xx:xx:xx:xx:xx"  # 172.48.0.1 is not a private address


def test_veth_names_can_be_kept():
    assert mask("veth1a2b3c4d aa:bb:cc:dd:ee:ff", veths=False) == "veth1a2b3c4d xx:xx:xx:xx:xx:xx"
