#!/usr/bin/env bash
# The OVA's disk: a Debian bookworm root that boots by itself (BIOS, GRUB, Debian's generic
# kernel), with the agent installed by firstboot/install.sh, made into a streamOptimized VMDK.
# `npm run ova` (scripts/ova.ts) runs it and packs the VMDK into the OVA; docs/ova.md explains it.
#
#   scripts/build-disk.sh [--dataplaneapi FILE] [--size GIB] OUT
#
#   --dataplaneapi FILE   the Data Plane API binary (an x86-64 ELF file downloaded from
#                         haproxytech) baked in as /usr/local/bin/dataplaneapi; without it the
#                         appliance runs everything else and the agent says the API is missing
#   --size GIB            the disk's capacity (default 8); only the used blocks take space
#
# Writes OUT/haproxy-disk1.vmdk, OUT/disk-usage.txt (what takes the space) and OUT/disk.json
# (kernel, root UUID, sizes). Needs root (the files of the root belong to root and other users),
# the cached base of `scripts/test-image.sh base vm` (debootstrap: Debian's packages are the only
# download), mkfs.ext4 (e2fsprogs >= 1.43: -d), sfdisk, GRUB's i386-pc images (grub-pc-bin) and
# qemu-img. It mounts nothing and uses no loop device: the file system is made from a folder
# (mkfs.ext4 -d) and GRUB's boot sectors are written into the disk file. The working folder
# (OUT/.disk-*) is removed at the end, also on failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
dataplaneapi=""
size_gib=8

# Exit 2: bad options, or this machine lacks what the build needs; exit 1: the build failed.
die() { echo "scripts/build-disk.sh: $*" >&2; exit 2; }
fail() { echo "scripts/build-disk.sh: $*" >&2; exit 1; }
say() { echo "scripts/build-disk.sh: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dataplaneapi) [ $# -ge 2 ] || die "--dataplaneapi needs a file"; dataplaneapi=$2; shift 2 ;;
    --dataplaneapi=*) dataplaneapi=${1#--dataplaneapi=}; shift ;;
    --size) [ $# -ge 2 ] || die "--size needs a number of GiB"; size_gib=$2; shift 2 ;;
    --size=*) size_gib=${1#--size=}; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || die "usage: scripts/build-disk.sh [--dataplaneapi FILE] [--size GIB] OUT"
out=$1
[ "$(id -u)" = 0 ] || die "must run as root: the image's files belong to root and other users"
case "$size_gib" in ''|*[!0-9]*) die "--size $size_gib: give a whole number of GiB (2 to 2000)" ;; esac
[ "$size_gib" -ge 2 ] && [ "$size_gib" -le 2000 ] || die "--size $size_gib: give a whole number of GiB (2 to 2000)"
if [ -n "$dataplaneapi" ]; then
  [ -f "$dataplaneapi" ] || die "--dataplaneapi $dataplaneapi: no such file"
  # An x86-64 ELF executable: 0x7f E L F, 64-bit (class 2), machine 0x3e.
  [ "$(od -An -tx1 -N5 "$dataplaneapi" | tr -d ' \n')" = 7f454c4602 ] && [ "$(od -An -tx1 -j18 -N2 "$dataplaneapi" | tr -d ' \n')" = 3e00 ] ||
    die "--dataplaneapi $dataplaneapi: not an x86-64 Linux executable (download the linux_x86_64 build of dataplaneapi from haproxytech)"
fi
for tool in mkfs.ext4 sfdisk qemu-img; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run scripts/install-deps.sh (as root)"
done
grub=/usr/lib/grub/i386-pc
[ -f "$grub/boot.img" ] && command -v grub-mkimage >/dev/null 2>&1 || die "GRUB's i386-pc images are missing: apt-get install grub-pc-bin"

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.disk-XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
t0=$SECONDS

base=$("$here/test-image.sh" base vm)
say "copying the base root $base"
cp -a "$base" "$root"
kver=$(ls "$root/lib/modules")
[ "$(echo "$kver" | wc -l)" = 1 ] || fail "expected one kernel in the base, found: $kver"
[ -e "$root/vmlinuz" ] && [ -e "$root/initrd.img" ] || fail "the base has no /vmlinuz or /initrd.img"

# Kernel modules no appliance loads (graphics other than VMware's and QEMU's, sound, radio, media,
# InfiniBand, staging drivers): left out now, and kept out of later kernel packages by dpkg's
# path-exclude (dpkg --help: "path-exclude"), so an upgrade does not bring them back.
prune=(
  kernel/sound kernel/drivers/media kernel/drivers/staging kernel/drivers/infiniband kernel/drivers/isdn
  kernel/drivers/net/wireless kernel/net/wireless kernel/net/mac80211 kernel/drivers/bluetooth kernel/net/bluetooth
  kernel/drivers/gpu/drm/amd kernel/drivers/gpu/drm/radeon kernel/drivers/gpu/drm/nouveau kernel/drivers/gpu/drm/i915
  kernel/drivers/iio kernel/drivers/input/touchscreen kernel/drivers/usb/gadget kernel/drivers/net/can kernel/drivers/hid
  kernel/drivers/net/ethernet/mellanox kernel/drivers/net/ethernet/chelsio kernel/drivers/net/ethernet/qlogic
  kernel/drivers/net/ethernet/sfc kernel/drivers/net/ethernet/netronome kernel/drivers/scsi/qla2xxx kernel/drivers/scsi/lpfc
  kernel/drivers/thunderbolt kernel/drivers/platform/x86
)
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
{
  echo "# haproxy-appliance: kernel modules an appliance never loads (scripts/build-disk.sh)"
  for p in "${prune[@]}"; do echo "path-exclude=/lib/modules/*/$p/*"; done
} >"$root/etc/dpkg/dpkg.cfg.d/haproxy-appliance-modules"
for p in "${prune[@]}"; do rm -rf "${root:?}/lib/modules/$kver/$p"; done
chroot "$root" /sbin/depmod -a "$kver"

# The agent and its units (it enables networkd, resolved and timesyncd, and makes the SSH host
# keys at first boot), and the Data Plane API when given.
"$repo/firstboot/install.sh" "$root" >&2
if [ -n "$dataplaneapi" ]; then
  install -m 0755 "$dataplaneapi" "$root/usr/local/bin/dataplaneapi"
  say "baked in the Data Plane API ($(sha256sum "$dataplaneapi" | cut -c1-16)…)"
fi

# What every deployed appliance must make for itself, cleared: the machine id (systemd makes one
# at first boot), the SSH host keys (made at first boot), and no password for root (locked: only
# appliance.root_pwd sets one). apt's lists and caches, logs and the build host's name go too.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
chroot "$root" /usr/sbin/usermod --lock root
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/debconf/*-old
find "$root/var/log" -type f -delete
rm -rf "${root:?}"/tmp/* "${root:?}"/var/tmp/*
echo haproxy >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# systemd-firstboot asks at the console on a first boot with no machine id: nobody is there.
ln -sfn /dev/null "$root/etc/systemd/system/systemd-firstboot.service"

# The file system and the boot loader.
uuid=$(cat /proc/sys/kernel/random/uuid)
cat >"$root/etc/fstab" <<EOF
# The appliance's one file system (scripts/build-disk.sh).
UUID=$uuid / ext4 errors=remount-ro 0 1
EOF
mkdir -p "$root/boot/grub/i386-pc"
cp "$grub"/*.mod "$grub"/*.lst "$root/boot/grub/i386-pc/"
# The kernel through Debian's /vmlinuz and /initrd.img links, which kernel upgrades keep current,
# so no update-grub is needed (and none is installed). Serial console on ttyS0 and the VGA
# console: the kernel prints on both; the last console= (ttyS0) is /dev/console, where systemd and
# the agent's first-boot unit print.
cat >"$root/boot/grub/grub.cfg" <<EOF
# The HAProxy appliance's boot menu (scripts/build-disk.sh). The kernel is /vmlinuz, a link kept
# current by Debian's kernel packages.
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set default=0
set timeout=1
menuentry 'HAProxy appliance (Debian GNU/Linux 12)' {
  search --no-floppy --fs-uuid --set=root $uuid
  linux /vmlinuz root=UUID=$uuid ro console=tty0 console=ttyS0,115200n8
  initrd /initrd.img
}
EOF

# What takes the space (before the file system is made).
(cd "$root" && du -xsm usr/lib/modules lib/modules usr/local/bin/node usr/local/lib/haproxy-appliance usr/share usr/lib usr/bin var boot 2>/dev/null; du -xsm . | sed 's/\t\.$/\ttotal/') >"$out/disk-usage.txt" || true

size_mib=$((size_gib * 1024))
part_start_mib=1
part=$work/root.ext4
raw=$work/disk.raw
say "making the file system ($((size_mib - part_start_mib)) MiB, ext4) from the root"
truncate -s "$(((size_mib - part_start_mib) * 1024 * 1024))" "$part"
# GRUB 2.06 reads ext4 with the bookworm defaults; no features it does not know (orphan_file,
# metadata_csum_seed) are turned on.
mkfs.ext4 -q -F -L haproxy-root -U "$uuid" -E root_owner=0:0 -d "$root" "$part"
truncate -s "$((size_mib * 1024 * 1024))" "$raw"
echo "start=${part_start_mib}MiB, type=83, bootable" | sfdisk --quiet --label dos "$raw"
dd if="$part" of="$raw" bs=1M seek="$part_start_mib" conv=notrunc,sparse status=none
rm -f "$part"
# GRUB for BIOS: boot.img in the MBR's code area (440 bytes: the partition table stays), and
# core.img (the disk and ext4 drivers, its prefix on the first partition) in the gap before it,
# from sector 1 — where boot.img's default points, and core.img's own block list continues.
grub-mkimage -O i386-pc -d "$grub" -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 search search_fs_uuid linux normal
core_sectors=$((($(stat -c %s "$work/core.img") + 511) / 512))
[ "$core_sectors" -lt $((part_start_mib * 2048 - 1)) ] || fail "GRUB's core.img ($core_sectors sectors) does not fit before the partition"
dd if="$grub/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none

say "converting to a streamOptimized VMDK"
vmdk=$out/haproxy-disk1.vmdk
rm -f "$vmdk"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$raw" "$vmdk.tmp"
qemu-img check -q "$vmdk.tmp" || fail "qemu-img check failed on the VMDK"
mv -f "$vmdk.tmp" "$vmdk"
cat >"$out/disk.json" <<EOF
{"kernel":"$kver","rootUuid":"$uuid","capacityBytes":$((size_mib * 1024 * 1024)),"vmdkBytes":$(stat -c %s "$vmdk"),"dataplaneapi":$([ -n "$dataplaneapi" ] && echo true || echo false),"seconds":$((SECONDS - t0))}
EOF
say "wrote $vmdk ($(($(stat -c %s "$vmdk") / 1024 / 1024)) MiB) in $((SECONDS - t0)) s"
echo "$vmdk"
