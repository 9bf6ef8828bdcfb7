#!/usr/bin/env bash
# The system part of `make install`: the tools the course needs, from the system's packages.
#
#   scripts/install.sh           check; as root on Debian/Ubuntu install what is missing with apt-get;
#                                otherwise print the exact install line (apt-get, or dnf on Fedora, or
#                                the commands needed on other systems) and exit 1
#   scripts/install.sh --test    the same, plus what only the tests use (chromium, libatomic1), which is
#                                optional: when it is missing or cannot be installed, say so and go on
#   scripts/install.sh --check   only report what is missing (never fails, never installs)
#
# What only the VM backend needs (QEMU and a static busybox: the lab in a small VM, used where the
# kernel refuses namespaces) is installed with the rest as root; as another user its absence never
# stops `./course lab` or `./course test`: the line to install it is printed and the command goes on.
#
# PYTHON (default python3) is the interpreter the Makefile builds .venv with; it
# must be able to run `-m venv` (on Debian/Ubuntu: the python3-venv package).
set -euo pipefail

PYTHON=${PYTHON:-python3}
MODE=install
TESTS=
for arg in "$@"; do
    case "$arg" in
        --check) MODE=check ;;
        --test) TESTS=1 ;;
        *) echo "usage: $0 [--check] [--test]" >&2; exit 2 ;;
    esac
done

# Everything `make` installs as root, in one apt-get call (binder/apt.txt lists the
# system tools among them; tests/course/test_environment.py keeps the two in step). The last two
# are for the VM backend (where namespaces are refused): QEMU, and a static busybox for the
# VM's initramfs (Debian's plain `busybox` is dynamically linked). apt-get runs with
# --no-install-recommends: qemu-system-x86 would pull in a desktop's worth otherwise.
APT_PACKAGES=(
    iproute2 iptables nftables containernetworking-plugins iputils-ping tcpdump iperf3
    conntrack procps bind9-dnsutils curl python3-venv python3-pip fonts-wqy-microhei
    qemu-system-x86 busybox-static
)
# The same on Fedora, for the `sudo dnf install` line this script prints (it never runs dnf).
# Names checked on packages.fedoraproject.org (2026): iproute, iptables-nft, containernetworking-plugins
# (its plugins are in /usr/libexec/cni), bind-utils (dig), procps-ng, busybox ("Statically linked
# binary"; busybox-shared is the dynamic one), qemu-system-<arch>-core (the x86 one is
# qemu-system-x86-core, as in Fedora's qemu.spec); nftables, iputils, tcpdump, iperf3,
# conntrack-tools and curl are Fedora's source-package names; Fedora's python3 has venv and
# ensurepip built in; wqy-microhei-fonts is Fedora's WenQuanYi Micro Hei.
DNF_PACKAGES=(
    iproute iptables-nft nftables containernetworking-plugins iputils tcpdump iperf3
    conntrack-tools procps-ng bind-utils curl python3 wqy-microhei-fonts
    qemu-system-x86-core busybox
)
# Only the browser test (tests/course/test_browser.py) uses these: Debian's chromium, which Playwright drives,
# and libatomic1, which Playwright's own driver (a node binary in the wheel) links against.
# Optional: where there is no such package (on Ubuntu chromium is a snap), that one test is skipped.
TEST_APT_PACKAGES=(chromium libatomic1)
# Where distributions put the CNI reference plugins: Debian/Ubuntu, Fedora, upstream. The same list
# as nethelpers/cni/plugindirs.py's PLUGIN_DIRS (tests/course/test_environment.py checks it).
CNI_DIRS=(/usr/lib/cni /usr/libexec/cni /opt/cni/bin)

# Non-root users often have no /usr/sbin in PATH: look there explicitly.
have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] \
        || [ -x "/usr/local/sbin/$1" ]
}

python_has_venv() {
    # Debian's python3 has the venv module without python3-venv, but not ensurepip,
    # so `python3 -m venv` fails there: check both.
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1
}

cni_plugins() {
    local dir
    for dir in "${CNI_DIRS[@]}"; do
        [ -x "$dir/bridge" ] && return 0
    done
    return 1
}

# The pictures' Chinese labels (the zh-CN edition) need a font with CJK glyphs: WenQuanYi Micro
# Hei, or Noto Sans CJK where it is already there (nethelpers/plot/fonts.py).
cjk_font() {
    compgen -G "/usr/share/fonts/*/wqy/wqy-microhei.ttc" >/dev/null \
        || compgen -G "/usr/share/fonts/wqy-microhei*/wqy-microhei.ttc" >/dev/null \
        || compgen -G "/usr/share/fonts/*/noto*/NotoSansCJK-Regular.ttc" >/dev/null \
        || compgen -G "/usr/share/fonts/google-noto-sans-cjk*/NotoSansCJK-Regular.ttc" >/dev/null
}

static_busybox() {
    # The VM's initramfs runs busybox before any library is there: it must be statically linked
    # (ldd says "not a dynamic executable" and fails for those).
    local bb
    for bb in "$(command -v busybox 2>/dev/null || true)" /bin/busybox /usr/bin/busybox /usr/sbin/busybox; do
        [ -n "$bb" ] && [ -x "$bb" ] || continue
        ldd "$bb" >/dev/null 2>&1 || return 0
    done
    return 1
}

# need CHECK DEBIAN FEDORA WHAT: when the command CHECK fails, the Debian/Ubuntu package(s), the
# Fedora package(s) and, for any other system, what must be there, go into the current group.
need() {
    local check=$1 deb=$2 dnf=$3 what=$4
    local -a words
    $check && return 0
    read -r -a words <<<"$deb"; GROUP_DEB+=("${words[@]}")
    read -r -a words <<<"$dnf"; GROUP_DNF+=("${words[@]}")
    GROUP_WHAT+=("$what")
}

# Fill MISSING (Debian/Ubuntu packages), MISSING_DNF (Fedora's), MISSING_WHAT (what, anywhere else),
# the same three VM_MISSING* for the VM backend, and TEST_MISSING (Debian packages, with --test).
collect() {
    GROUP_DEB=(); GROUP_DNF=(); GROUP_WHAT=()
    need "have ip"         iproute2         iproute          "ip (iproute2)"
    need "have iptables"   iptables         iptables-nft     "iptables (the nf_tables one)"
    need "have nft"        nftables         nftables         "nft (nftables)"
    need "have tcpdump"    tcpdump          tcpdump          "tcpdump"
    need "have ping"       iputils-ping     iputils          "ping (iputils)"
    need "have iperf3"     iperf3           iperf3           "iperf3"
    need "have conntrack"  conntrack        conntrack-tools  "conntrack (conntrack-tools)"
    need "have ps"         procps           procps-ng        "ps (procps)"
    need "have dig"        bind9-dnsutils   bind-utils       "dig (BIND's utilities)"
    need "have curl"       curl             curl             "curl"
    need cni_plugins       containernetworking-plugins containernetworking-plugins \
        "the CNI reference plugins (bridge, host-local, portmap, ...) in one of ${CNI_DIRS[*]}"
    need python_has_venv   "python3-venv python3-pip" python3 "$PYTHON with the venv and ensurepip modules"
    need cjk_font          fonts-wqy-microhei wqy-microhei-fonts "a font with Chinese glyphs (WenQuanYi Micro Hei)"
    MISSING=("${GROUP_DEB[@]}"); MISSING_DNF=("${GROUP_DNF[@]}"); MISSING_WHAT=("${GROUP_WHAT[@]}")

    GROUP_DEB=(); GROUP_DNF=(); GROUP_WHAT=()
    need "have qemu-system-x86_64" qemu-system-x86 qemu-system-x86-core "qemu-system-x86_64 (QEMU)"
    need static_busybox    busybox-static   busybox          "a statically linked busybox"
    VM_MISSING=("${GROUP_DEB[@]}"); VM_MISSING_DNF=("${GROUP_DNF[@]}"); VM_MISSING_WHAT=("${GROUP_WHAT[@]}")

    TEST_MISSING=()
    if [ -n "$TESTS" ]; then
        [ -x /usr/bin/chromium ] || TEST_MISSING+=(chromium)
        compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null || compgen -G "/lib/*/libatomic.so.1" >/dev/null \
            || TEST_MISSING+=(libatomic1)
    fi
    ALL_MISSING=("${MISSING[@]}" "${VM_MISSING[@]}" "${TEST_MISSING[@]}")
}

collect
if [ "${#ALL_MISSING[@]}" -eq 0 ]; then
    exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
    SYSTEM=apt
elif command -v dnf >/dev/null 2>&1; then
    SYSTEM=dnf
else
    SYSTEM=other
fi

say_tests_skipped() {
    {
        echo "install.sh: not installed: ${TEST_MISSING[*]}; only the browser test (tests/course/test_browser.py) uses it" \
             "and will be skipped. To run it:"
        if [ "$SYSTEM" = apt ]; then
            echo "    sudo apt-get install -y ${TEST_MISSING[*]}"
        else
            echo "    install Chromium as /usr/bin/chromium (or set NETHELPERS_CHROMIUM) and libatomic.so.1"
        fi
    } >&2
}

say_vm_missing() {
    [ "${#VM_MISSING[@]}" -ne 0 ] || return 0
    {
        echo "install.sh: not installed: ${VM_MISSING_WHAT[*]}. Only the VM backend needs them (the lab in a"
        echo "small VM, for machines that refuse namespaces; \`./course doctor\` says which backend runs here)."
        case "$SYSTEM" in
            apt) echo "    sudo apt-get install -y --no-install-recommends ${VM_MISSING[*]}" ;;
            dnf) echo "    sudo dnf install -y ${VM_MISSING_DNF[*]}" ;;
            *) echo "    install, with this system's package manager: ${VM_MISSING_WHAT[*]}" ;;
        esac
    } >&2
}

# What is missing, and the line that installs it, on this system.
say_missing() {
    local intro=$1
    {
        echo
        case "$SYSTEM" in
            apt)
                echo "$intro Debian/Ubuntu packages that are not installed: ${MISSING[*]}"
                echo "Install them (this needs root), then run the command again:"
                echo
                echo "    sudo apt-get update"
                echo "    sudo apt-get install -y --no-install-recommends ${ALL_MISSING[*]}" ;;
            dnf)
                echo "$intro Fedora packages that are not installed: ${MISSING_DNF[*]}"
                echo "Install them (this needs root), then run the command again:"
                echo
                echo "    sudo dnf install -y ${MISSING_DNF[*]} ${VM_MISSING_DNF[*]}" ;;
            *)
                echo "$intro tools that are not installed, and this system has neither apt-get nor dnf."
                echo "Install, with this system's package manager, what provides:"
                echo
                local what
                for what in "${MISSING_WHAT[@]}"; do
                    echo "  - $what"
                done
                for what in "${VM_MISSING_WHAT[@]}"; do
                    echo "  - $what (only for the VM backend, where namespaces are refused)"
                done
                echo
                echo "then run the command again. For comparison, the packages that bring them"
                echo "  on Debian/Ubuntu: ${APT_PACKAGES[*]}"
                echo "  on Fedora: ${DNF_PACKAGES[*]}" ;;
        esac
        echo
    } >&2
}

if [ "$MODE" = check ]; then
    if [ "${#MISSING[@]}" -ne 0 ]; then
        say_missing "install.sh: the course needs"   # with the VM backend's, if missing too
    else
        say_vm_missing
    fi
    [ "${#TEST_MISSING[@]}" -eq 0 ] || say_tests_skipped
    exit 0
fi

if [ "$SYSTEM" != apt ] || [ "$EUID" -ne 0 ]; then
    if [ "${#MISSING[@]}" -ne 0 ]; then
        say_missing "The course needs"
        exit 1
    fi
    say_vm_missing
    [ "${#TEST_MISSING[@]}" -eq 0 ] || say_tests_skipped
    exit 0
fi

# root on Debian/Ubuntu: install.
export DEBIAN_FRONTEND=noninteractive
updated=
if [ "${#MISSING[@]}" -ne 0 ] || [ "${#VM_MISSING[@]}" -ne 0 ]; then
    echo "install.sh: missing ${MISSING[*]} ${VM_MISSING[*]}; installing the course's packages with apt-get" >&2
    apt-get update
    updated=1
    if ! apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"; then
        # a release without one of the VM backend's packages: the course itself must not fail for it
        echo "install.sh: apt-get failed; trying again without the VM backend's ${VM_MISSING[*]}" >&2
        # shellcheck disable=SC2046  # one word per package
        apt-get install -y --no-install-recommends \
            $(printf '%s\n' "${APT_PACKAGES[@]}" | grep -vxF -e qemu-system-x86 -e busybox-static)
    fi
fi
if [ "${#TEST_MISSING[@]}" -ne 0 ]; then
    echo "install.sh: missing ${TEST_MISSING[*]} (for the browser test); installing it with apt-get" >&2
    # On failure (no such package, no network) only that test is lost: go on.
    { [ -n "$updated" ] || apt-get update; } \
        && apt-get install -y --no-install-recommends "${TEST_APT_PACKAGES[@]}" \
        || say_tests_skipped
fi

collect
if [ "${#MISSING[@]}" -ne 0 ]; then
    echo "install.sh: still missing after apt-get: ${MISSING[*]}" >&2
    if [[ " ${MISSING[*]} " == *" python3-venv "* ]]; then
        echo "install.sh: $PYTHON cannot create a venv; try: PYTHON=/usr/bin/python3 ./course ..." >&2
    fi
    exit 1
fi
say_vm_missing
