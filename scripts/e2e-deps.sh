#!/bin/sh
# Installs the Debian packages the end-to-end bed (npm run demo, test/e2e/) needs on this machine:
# systemd-nspawn (systemd-container), debootstrap (the image, built once and cached), nsenter and
# unshare and setpriv (util-linux), ip (iproute2), systemd-networkd (systemd: it sends the router's IPv6 RAs).
# Quick when everything is there. Run as root.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have systemd-nspawn || need="$need systemd-container"
have debootstrap || need="$need debootstrap"
{ have nsenter && have unshare && have setpriv; } || need="$need util-linux"
have ip || need="$need iproute2"
have /lib/systemd/systemd-networkd || need="$need systemd"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/e2e-deps.sh: missing Debian packages:$need — install them as root (apt-get install$need)" >&2
  exit 1
fi
echo "scripts/e2e-deps.sh: installing$need" >&2
apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
