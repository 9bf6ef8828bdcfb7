#!/usr/bin/env bash
# The system part of `make install`: the Debian/Ubuntu tools the course needs.
#
#   scripts/install.sh           check; as root install what is missing with apt-get,
#                                as another user print the apt-get line and exit 1
#   scripts/install.sh --test    the same, plus what only the tests use (chromium, libatomic1), which is
#                                optional: when it is missing or cannot be installed, say so and go on
#   scripts/install.sh --check   only report what is missing (never fails, never installs)
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
# system tools among them; tests/test_environment.py keeps the two in step).
APT_PACKAGES=(
    iproute2 iptables nftables containernetworking-plugins iputils-ping tcpdump iperf3
    conntrack procps bind9-dnsutils curl python3-venv python3-pip
)
# Only the browser test (tests/test_browser.py) uses these: Debian's chromium, which Playwright drives,
# and libatomic1, which Playwright's own driver (a node binary in the wheel) links against.
# Optional: where there is no such package (on Ubuntu chromium is a snap), that one test is skipped.
TEST_APT_PACKAGES=(chromium libatomic1)

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

missing_packages() {
    local -a missing=()
    have ip || missing+=(iproute2)
    have iptables || missing+=(iptables)
    have nft || missing+=(nftables)
    have tcpdump || missing+=(tcpdump)
    have ping || missing+=(iputils-ping)
    have iperf3 || missing+=(iperf3)
    have conntrack || missing+=(conntrack)
    have ps || missing+=(procps)
    have dig || missing+=(bind9-dnsutils)
    have curl || missing+=(curl)
    [ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || missing+=(containernetworking-plugins)
    python_has_venv || missing+=(python3-venv python3-pip)
    echo "${missing[@]}"
}

missing_test_packages() {
    local missing=()
    [ -z "$TESTS" ] && return
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null || compgen -G "/lib/*/libatomic.so.1" >/dev/null \
        || missing+=(libatomic1)
    echo "${missing[@]}"
}

say_tests_skipped() {
    {
        echo "install.sh: not installed: ${TEST_MISSING[*]}; only the browser test (tests/test_browser.py) uses it" \
             "and will be skipped. To run it:"
        echo "    sudo apt-get install -y ${TEST_MISSING[*]}"
    } >&2
}

read -r -a MISSING <<<"$(missing_packages)"
read -r -a TEST_MISSING <<<"$(missing_test_packages)"
ALL_MISSING=("${MISSING[@]}" "${TEST_MISSING[@]}")
if [ "${#ALL_MISSING[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$MODE" = check ]; then
    echo "install.sh: missing Debian/Ubuntu packages: ${ALL_MISSING[*]}" >&2
    echo "    sudo apt-get install -y ${ALL_MISSING[*]}" >&2
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if [ "${#MISSING[@]}" -eq 0 ]; then
        say_tests_skipped
        exit 0
    fi
    {
        echo
        echo "The course needs Debian/Ubuntu packages that are not installed: ${MISSING[*]}"
        echo "Install them (this needs root), then run the command again:"
        echo
        echo "    sudo apt-get update"
        echo "    sudo apt-get install -y ${ALL_MISSING[*]}"
        echo
    } >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    if [ "${#MISSING[@]}" -eq 0 ]; then
        say_tests_skipped
        exit 0
    fi
    echo "install.sh: missing ${MISSING[*]}, and this is not a Debian/Ubuntu system (no apt-get):" \
         "install the equivalent packages by hand." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
updated=
if [ "${#MISSING[@]}" -ne 0 ]; then
    echo "install.sh: missing ${MISSING[*]}; installing the course's packages with apt-get" >&2
    apt-get update
    updated=1
    apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
fi
if [ "${#TEST_MISSING[@]}" -ne 0 ]; then
    echo "install.sh: missing ${TEST_MISSING[*]} (for the browser test); installing it with apt-get" >&2
    # On failure (no such package, no network) only that test is lost: go on.
    { [ -n "$updated" ] || apt-get update; } \
        && apt-get install -y --no-install-recommends "${TEST_APT_PACKAGES[@]}" \
        || say_tests_skipped
fi

read -r -a MISSING <<<"$(missing_packages)"
if [ "${#MISSING[@]}" -ne 0 ]; then
    echo "install.sh: still missing after apt-get: ${MISSING[*]}" >&2
    if [[ " ${MISSING[*]} " == *" python3-venv "* ]]; then
        echo "install.sh: $PYTHON cannot create a venv; try: PYTHON=/usr/bin/python3 ./course ..." >&2
    fi
    exit 1
fi
