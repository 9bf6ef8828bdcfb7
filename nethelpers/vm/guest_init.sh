#!/bin/busybox sh
# The guest's first program (busybox sh, in the VM's initramfs). It loads the modules the guest
# boots with, builds the guest's root: a tmpfs holding the machine's shared directories (virtio-9p,
# read-only, each under a tmpfs overlay so that writes stay in the guest), and hands over to the
# nethelpers agent (nethelpers/vm/agent.py), which talks to the lab's owner over a serial port.
# Under emulation every program it starts costs 10-20 ms, so it starts as few as it can.
# Its arguments come on the kernel command line (nethelpers/vm/machine.py):
#   nh.args     base64 of lines "python PATH", "package PATH" (the directory holding nethelpers),
#               "modules PATH" (the guest kernel's modules, mounted as /lib/modules),
#               "mount TAG PATH" (a 9p export and where it goes), "link NAME TARGET" (the
#               machine's top-level symlinks: /bin -> usr/bin, ...)
#   nh.probe=1  only say that the guest boots (the KVM probe), then power off
#   nh.debug=1  say when each step ends (NETHELPERS_VM_DEBUG=1)
B=/bin/busybox
fail() { echo "nethelpers-init: $*"; $B poweroff -f; }
# through /dev/kmsg, so the console line also carries the kernel's own timestamp: the profile
# (nethelpers/vm/bootprofile.py) pairs the two clocks with it
step() { [ -z "$DEBUG" ] || echo "nethelpers-init: $* at $($B cut -d' ' -f1 /proc/uptime) s" > /dev/kmsg; }
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
read -r CMDLINE < /proc/cmdline
case " $CMDLINE " in *" nh.probe=1 "*) echo nethelpers-probe-ok; $B poweroff -f;; esac
case " $CMDLINE " in *" nh.debug=1 "*) DEBUG=1;; esac
step "started"
while read -r module; do
    $B insmod "/$module" || fail "cannot load $module"
done < /boot-modules
step "modules loaded"
ARGS=${CMDLINE#* nh.args=}
echo "${ARGS%% *}" | $B base64 -d > /args || fail "no nh.args on the kernel command line"
: > /mounts
while read -r kind first rest; do
    case $kind in
        python) PYTHON="$first${rest:+ $rest}";;
        package) PACKAGE="$first${rest:+ $rest}";;
        modules) MODULES="$first${rest:+ $rest}";;
        mount) echo "$first $rest" >> /mounts;;
        link) LINKS="$LINKS$first $rest
";;
    esac
done < /args
$B mkdir -p /newroot /rw
$B mount -t tmpfs -o mode=755 root /newroot
$B mount -t tmpfs -o mode=755 rw /rw
# the guest's own /run and /tmp first: a shared directory may live under /tmp (a course cloned there)
$B mkdir -p /newroot/run /newroot/tmp
$B mount -t tmpfs -o mode=755 run /newroot/run
$B mount -t tmpfs -o mode=1777 tmp /newroot/tmp
echo "$LINKS" | while read -r name target; do
    [ -n "$name" ] && $B ln -s "$target" "/newroot/$name"
done
# all at once, on every vCPU: the exports never nest (machine.exports drops a path inside another)
while read -r tag path; do
    [ -n "$tag" ] || continue
    {
        $B mkdir -p "/rw/$tag/lower" "/rw/$tag/upper" "/rw/$tag/work" "/newroot$path"
        $B mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 "$tag" "/rw/$tag/lower" \
            || fail "cannot mount $path over 9p"
        $B mount -t overlay -o "lowerdir=/rw/$tag/lower,upperdir=/rw/$tag/upper,workdir=/rw/$tag/work" \
            "$tag" "/newroot$path" || fail "cannot mount an overlay on $path"
    } &
done < /mounts
wait
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
