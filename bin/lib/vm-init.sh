#!/bin/busybox sh
# /init of the initramfs that bin/vm-test builds: load the 9p and overlay modules, make the host's
# root (shared read-only over 9p) the guest's root with a tmpfs over it for writes, mount the
# writable results share at its host path, run the command, write its exit status, power off.
# Everything here is busybox; the command itself runs in the host's root (chroot), so it sees
# the same JDK, project and tools as the host. Lines starting "vm-init:" are this script's.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() { echo "vm-init: $*"; poweroff -f; }
for module in $(cat /modules/order); do
  insmod "/modules/$module.ko" || fail "insmod $module failed"
done
results=$(cat /results-path)
mkdir -p /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host || fail "cannot mount the host root (9p)"
mount -t tmpfs -o mode=0755 rw /rw && mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work root /newroot || fail "cannot mount the overlay root"
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/shm /newroot/dev/pts
ln -sf /proc/self/fd /newroot/dev/fd # bash's <(...) needs it; devtmpfs has none
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=0755 run /newroot/run
mkdir -p "/newroot$results"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results "/newroot$results" || fail "cannot mount the results share"
echo "vm-init: Linux $(uname -r), NUMA nodes $(cat /sys/devices/system/node/online), $(grep -c ^processor /proc/cpuinfo) CPUs, up after $(cut -d' ' -f1 /proc/uptime) s"
chroot /newroot /bin/bash "$results/.vm-command"
echo "$?" > "/newroot$results/.vm-exit-status"
sync
umount "/newroot$results"
poweroff -f
