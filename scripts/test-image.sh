#!/usr/bin/env bash
# The end-to-end test appliance's image: a Debian bookworm root with systemd, haproxy, sshd and
# the agent, bootable under systemd-nspawn. Two layers:
#
#   scripts/test-image.sh base [vm]   builds (once) and caches a pristine debootstrap root keyed by
#                                     its package list; prints its path. `vm` adds what a root that
#                                     boots on (virtual) hardware needs: the kernel, initramfs-tools,
#                                     udev and open-vm-tools (scripts/build-disk.sh builds the OVA's
#                                     disk from it)
#   scripts/test-image.sh root DEST [INSTALL-OPTIONS]
#                                     copies the cached base to DEST (a fresh working root per run,
#                                     so the cache stays pristine), applies the container settings
#                                     below and installs the agent with firstboot/install.sh
#                                     (INSTALL-OPTIONS are passed to it); prints DEST
#   scripts/test-image.sh cached [vm] exit 0 when the base is already cached
#   scripts/test-image.sh key [vm]    the cache key (suite, mirror, package list)
#   scripts/test-image.sh peer-root DEST
#                                     the peer of bench/peer.bench.ts: the `cloudinit` base (the
#                                     container's packages plus Debian's cloud-init) copied to DEST
#                                     with the container settings, systemd-networkd, resolved and
#                                     timesyncd enabled as firstboot/install.sh enables them, and
#                                     cloud-init set up as an image builder would (NoCloud only,
#                                     the networkd renderer); no agent. Prints DEST
#
# Cache: $HPA_IMAGE_CACHE (default /var/cache/haproxy-appliance-test). Mirror: $HPA_DEBIAN_MIRROR
# (default debootstrap's, deb.debian.org). Needs root, debootstrap (first build only) and cp.
# Touches nothing outside the cache and DEST; debootstrap's own mounts (proc, sys) are inside the
# root it builds and are gone when it exits.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${HPA_IMAGE_CACHE:-/var/cache/haproxy-appliance-test}
suite=bookworm
# What the appliance needs (the seed's tools: netstat from net-tools, ss/ip from iproute2, ps from
# procps), plus resolved and timesyncd as on the real appliance, and openssl / ca-certificates for
# the agent's PKI and trust store.
packages=(
  systemd systemd-sysv systemd-resolved systemd-timesyncd dbus
  iproute2 net-tools procps
  haproxy openssh-server
  openssl ca-certificates
)
# A root that boots by itself (the OVA's disk): Debian's generic kernel, which has the drivers of
# vSphere's hardware (vmxnet3, e1000, pvscsi, LSI Logic, AHCI, PIIX IDE for the CD-ROM; the cloud
# kernel lacks e1000, LSI Logic and AHCI) and of QEMU's; udev, kmod and initramfs-tools; VMware
# Tools (the guestinfo transport, clean shutdown from vSphere).
vm_packages=(linux-image-amd64 initramfs-tools udev kmod open-vm-tools)
profile=container
select_profile() {
  case "${1:-}" in
    '') ;;
    vm) profile=vm; packages+=("${vm_packages[@]}") ;;
    # The peer: Debian's cloud-init (and what it depends on: python3 and its modules, isc-dhcp-client...).
    # python3-cffi-backend is named because debootstrap does not resolve virtual packages
    # (python3-cryptography depends on python3-cffi-backend-api-min, which it provides).
    cloudinit) profile=cloudinit; packages+=(cloud-init python3-cffi-backend) ;;
    *) die "unknown profile ${1} (give nothing, vm or cloudinit)" ;;
  esac
}

die() { echo "scripts/test-image.sh: $*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (debootstrap and systemd-nspawn need it): sudo $0 $*"
}

key() {
  # The cache key: suite, mirror and package list (sorted). A different list builds a new root.
  printf '%s\n' "$suite" "${HPA_DEBIAN_MIRROR:-default}" "$(printf '%s\n' "${packages[@]}" | sort | tr '\n' ' ')" \
    | sha256sum | cut -c1-12
}

# Removes a build directory, unmounting first whatever is mounted below it (debootstrap mounts
# proc and sys in the root it builds; an interrupted build can leave them).
remove_build() {
  local t=$1 m
  [ -d "$t" ] || return 0
  for m in $(awk -v p="$t/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do umount -l "$m"; done
  rm -rf "$t"
}

base() {
  need_root base
  local dir="$cache/$suite-$(key)"
  if [ -f "$dir/complete" ]; then echo "$dir/root"; return; fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: run scripts/install-deps.sh (as root), or apt-get install debootstrap systemd-container"
  mkdir -p "$cache"
  # One builder at a time; a second caller waits and then finds the finished root.
  exec 9>"$cache/.lock"
  flock 9
  if [ -f "$dir/complete" ]; then echo "$dir/root"; return; fi
  # Builds interrupted earlier (this one holds the lock, so no other build is running).
  local t
  for t in "$cache"/.build-*; do remove_build "$t"; done
  tmp="$cache/.build-$$"
  rm -rf "$dir"
  mkdir -p "$tmp"
  trap 'remove_build "$tmp"' EXIT
  local include
  include=$(IFS=,; echo "${packages[*]}")
  local t0=$SECONDS
  echo "scripts/test-image.sh: debootstrap $suite with ${packages[*]} into $dir (first run only, ~1 min)" >&2
  # In its own process group, so an interruption ends debootstrap and everything it started
  # (dpkg in the chroot) before the build directory is removed.
  # shellcheck disable=SC2086
  setsid debootstrap --variant=minbase --include="$include" "$suite" "$tmp/root" ${HPA_DEBIAN_MIRROR:-} >"$tmp/debootstrap.log" 2>&1 &
  dpid=$!
  trap 'kill -TERM -- "-$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; exit 130' INT TERM
  if ! wait "$dpid"; then
    tail -n 30 "$tmp/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  fi
  # A smaller root copies faster: the downloaded packages are not needed.
  rm -f "$tmp/root"/var/cache/apt/archives/*.deb
  rm -rf "$tmp/root"/var/lib/apt/lists/*
  printf '%s\n' "${packages[@]}" >"$tmp/packages"
  echo "$((SECONDS - t0))" >"$tmp/debootstrap-seconds"
  if awk -v p="$tmp/" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    die "something is still mounted below $tmp after debootstrap"
  fi
  touch "$tmp/complete"
  mv "$tmp" "$dir"
  trap - EXIT INT TERM
  echo "scripts/test-image.sh: built in $((SECONDS - t0)) s" >&2
  echo "$dir/root"
}

# Settings for booting the image under systemd-nspawn in a network namespace (and nothing the
# real appliance would not have): the units that cannot work in a container masked. (networkd,
# resolved, timesyncd and resolved's stub are firstboot/install.sh's, as for the OVA.)
container_settings() {
  local r=$1
  mkdir -p "$r/etc/systemd/system"
  # No terminals (the container's console is read-only), no udev (nspawn has none), no clock to set.
  for u in console-getty.service getty@.service serial-getty@.service systemd-udevd.service \
    systemd-udev-trigger.service systemd-udev-settle.service e2scrub_reap.service apt-daily.timer \
    apt-daily-upgrade.timer dpkg-db-backup.timer; do
    ln -sfn /dev/null "$r/etc/systemd/system/$u"
  done
  # A fresh machine: systemd makes a machine id at first boot.
  : >"$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id"
}

root() {
  need_root root DEST
  local dest=${1:?usage: scripts/test-image.sh root DEST [INSTALL-OPTIONS]}
  shift
  [ -e "$dest" ] && die "$dest exists; give a new directory"
  local b
  b=$(base)
  mkdir -p "$(dirname "$dest")"
  cp -a "$b" "$dest"
  container_settings "$dest"
  "$repo/firstboot/install.sh" "$@" "$dest" >&2
  echo "$dest"
}

# The peer's image (bench/peer.bench.ts): cloud-init instead of the agent, on the same base.
peer_root() {
  need_root peer-root DEST
  local dest=${1:?usage: scripts/test-image.sh peer-root DEST}
  [ -e "$dest" ] && die "$dest exists; give a new directory"
  local b
  select_profile cloudinit
  b=$(base)
  mkdir -p "$(dirname "$dest")"
  cp -a "$b" "$dest"
  container_settings "$dest"
  # The same network services as the agent's image (firstboot/install.sh enables them the same way:
  # the links `systemctl enable` would make; Debian ships networkd and resolved disabled).
  local u=/lib/systemd/system
  local pair
  for pair in systemd-networkd.service:multi-user.target systemd-networkd.socket:sockets.target \
    systemd-networkd-wait-online.service:network-online.target systemd-resolved.service:multi-user.target \
    systemd-timesyncd.service:sysinit.target; do
    mkdir -p "$dest/etc/systemd/system/${pair#*:}.wants"
    ln -sfn "$u/${pair%%:*}" "$dest/etc/systemd/system/${pair#*:}.wants/${pair%%:*}"
  done
  ln -sfn ../run/systemd/resolve/stub-resolv.conf "$dest/etc/resolv.conf"
  # What an image builder sets for a NoCloud appliance: only the datasource it has (ds-identify
  # and cloud-init probe nothing else), a locale the image has, and systemd-networkd as the
  # renderer (Debian's default order tries eni, sysconfig, netplan and network-manager first).
  mkdir -p "$dest/etc/cloud/cloud.cfg.d"
  cat >"$dest/etc/cloud/cloud.cfg.d/90-appliance.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
# Debian's default (en_US.UTF-8) needs locale-gen and a generated locale, which a minimal image
# lacks: the locale module fails and cloud-config.service with it.
locale: C.UTF-8
system_info:
  network:
    renderers: [ networkd ]
CFG
  echo "$dest"
}

case "${1:-}" in
  peer-root) shift; peer_root "$@" ;;
  base) select_profile "${2:-}"; base ;;
  root) shift; root "$@" ;;
  cached) select_profile "${2:-}"; [ -f "$cache/$suite-$(key)/complete" ] ;;
  key) select_profile "${2:-}"; key ;;
  *) die "usage: $0 base [vm|cloudinit] | root DEST [INSTALL-OPTIONS] | peer-root DEST | cached [vm|cloudinit] | key [vm|cloudinit]" ;;
esac
