#!/bin/sh
# Installs the Debian packages the tests and the demo need: the real programs they run
# (systemd-networkd, haproxy, sshd, dnsmasq, OpenSSL, xmllint, iproute2, genisoimage for the ISO
# transport) and the end-to-end bed (systemd-nspawn, debootstrap; nsenter, unshare and setpriv
# from util-linux; flock, which the agent itself uses, is there too), and GNU time for the
# verifier's peak-memory figures. The OVA build and its VM test: mkfs.ext4 (e2fsprogs), sfdisk
# (fdisk), GRUB's BIOS images (grub-pc-bin: only files, it installs no boot loader on this
# machine), qemu-img (qemu-utils) and qemu-system-x86_64. Quick when everything is already there.
# Run as root.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have xmllint || need="$need libxml2-utils"
have /usr/sbin/haproxy || need="$need haproxy"
have /usr/sbin/sshd || need="$need openssh-server"
have /usr/sbin/dnsmasq || need="$need dnsmasq-base"
have /lib/systemd/systemd-networkd || need="$need systemd"
have ip || need="$need iproute2"
have openssl || need="$need openssl"
have genisoimage || need="$need genisoimage"
{ have mount && have losetup && have nsenter && have unshare && have setpriv && have flock; } || need="$need mount util-linux"
have systemd-nspawn || need="$need systemd-container"
have debootstrap || need="$need debootstrap"
have /usr/bin/time || need="$need time"
have mkfs.ext4 || need="$need e2fsprogs"
have sfdisk || need="$need fdisk"
{ [ -f /usr/lib/grub/i386-pc/boot.img ] && have grub-mkimage; } || need="$need grub-pc-bin"
have qemu-img || need="$need qemu-utils"
have qemu-system-x86_64 || need="$need qemu-system-x86"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/install-deps.sh: missing Debian packages:$need — install them as root (apt-get install$need)" >&2
  exit 1
fi
echo "scripts/install-deps.sh: installing$need" >&2
apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
