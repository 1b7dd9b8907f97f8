#!/bin/sh
# Installs what the tests need on a fresh Debian machine: the real programs the integration
# tests run (systemd-networkd, haproxy, sshd, dnsmasq, OpenSSL, xmllint, iproute2). Quick when
# everything is already there. Run as root (the network tests need it anyway).
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
have mount || need="$need mount"
have genisoimage || need="$need genisoimage"
have losetup || need="$need mount"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test/install-deps.sh: missing Debian packages:$need — install them as root (apt-get install$need)" >&2
  exit 1
fi
echo "test/install-deps.sh: installing$need" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
