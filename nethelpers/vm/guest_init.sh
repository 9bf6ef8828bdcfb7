#!/bin/busybox sh
# The guest's first program (busybox sh, in the VM's initramfs). It loads the modules the guest
# boots with, builds the guest's root: a tmpfs holding the machine's shared directories (virtio-9p,
# read-only, each under a tmpfs overlay so that writes stay in the guest), and hands over to the
# nethelpers agent (nethelpers/vm/agent.py), which talks to the lab's owner over a serial port.
# Its arguments come on the kernel command line, base64-encoded (nethelpers/vm/machine.py):
#   nh.mounts   lines "TAG PATH": a 9p export and where it goes
#   nh.links    lines "NAME TARGET": the machine's top-level symlinks (/bin -> usr/bin, ...)
#   nh.python   the owner's Python;  nh.package  the directory holding nethelpers
#   nh.modules  the guest kernel's modules directory (mounted as /lib/modules)
#   nh.probe    only say that the guest boots (the KVM probe), then power off
#   nh.debug    say when each step ends (NETHELPERS_VM_DEBUG=1)
B=/bin/busybox
fail() { echo "nethelpers-init: $*"; $B poweroff -f; }
step() { [ -z "$DEBUG" ] || echo "nethelpers-init: $* at $($B cut -d' ' -f1 /proc/uptime) s"; }
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
if $B grep -q 'nh.probe=1' /proc/cmdline; then echo nethelpers-probe-ok; $B poweroff -f; fi
DEBUG=$($B grep -o 'nh.debug=1' /proc/cmdline)
step "started"
for module in $($B cat /boot-modules); do
    $B insmod "/$module" || fail "cannot load $module"
done
arg() { $B sed -n "s/.* $1=\([^ ]*\).*/\1/p" /proc/cmdline | $B base64 -d; }
step "modules loaded"
PYTHON=$(arg nh.python); PACKAGE=$(arg nh.package); MODULES=$(arg nh.modules)
$B mkdir -p /newroot /rw
$B mount -t tmpfs -o mode=755 root /newroot
$B mount -t tmpfs -o mode=755 rw /rw
# the guest's own /run and /tmp first: a shared directory may live under /tmp (a course cloned there)
$B mkdir -p /newroot/run /newroot/tmp
$B mount -t tmpfs -o mode=755 run /newroot/run
$B mount -t tmpfs -o mode=1777 tmp /newroot/tmp
{ arg nh.links; echo; } | while read -r name target; do
    [ -n "$name" ] && $B ln -s "$target" "/newroot/$name"
done
{ arg nh.mounts; echo; } > /mounts
while read -r tag path; do
    [ -n "$tag" ] || continue
    $B mkdir -p "/rw/$tag/lower" "/rw/$tag/upper" "/rw/$tag/work" "/newroot$path"
    $B mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 "$tag" "/rw/$tag/lower" \
        || fail "cannot mount $path over 9p"
    $B mount -t overlay -o "lowerdir=/rw/$tag/lower,upperdir=/rw/$tag/upper,workdir=/rw/$tag/work" \
        "$tag" "/newroot$path" || fail "cannot mount an overlay on $path"
done < /mounts
# the guest kernel's modules, and busybox as the modprobe the kernel calls to load them on demand
$B mkdir -p /newroot/lib/modules /newroot/root /newroot/var/tmp \
    /newroot/.nethelpers /newroot/dev /newroot/proc /newroot/sys || fail "cannot make the guest's directories"
$B mount --bind "/newroot$MODULES" /newroot/lib/modules || fail "no guest modules in $MODULES"
$B cp /bin/busybox /newroot/.nethelpers/modprobe
echo /.nethelpers/modprobe > /proc/sys/kernel/modprobe
[ -e /newroot/var/run ] || $B ln -s /run /newroot/var/run
step "directories shared"
for fs in dev proc sys; do $B mount --move /$fs /newroot/$fs; done
$B mkdir -p /newroot/dev/pts /newroot/dev/shm
$B mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
$B mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
# The agent's environment from its first instruction on (process titles need it unchanged), and a
# short command line: a lab program forked from it takes over that memory for its title
# (nethelpers/sandbox/programs.py), and a title shorter than it would show padded in ps.
unset TERM
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PYTHONPATH="$PACKAGE"
exec $B switch_root /newroot "$PYTHON" -S -m nethelpers.vm.agent
