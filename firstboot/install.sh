#!/bin/sh
# Installs the first-boot agent into an image root: what a Packer or Ansible image build runs
# (docs/image.md). Idempotent: a second run changes nothing; an existing
# /etc/default/haproxy-appliance is kept (only the variables given with --set are changed in it).
#
#   firstboot/install.sh [OPTIONS] ROOT
#
#   --build FILE      the agent to install (default: dist/haproxy-appliance.cjs of this tree,
#                     from `npm run build`); a single executable (scripts/sea.sh) is installed
#                     as /usr/local/bin/haproxy-appliance itself and needs no node
#   --node FILE       the node binary to copy into ROOT/usr/local/bin/node when the image has
#                     none (default: the node on this machine's PATH)
#   --no-node         never copy node (the image build installs it another way)
#   --set KEY=VALUE   set KEY (OVF_ENV or NICS) in ROOT/etc/default/haproxy-appliance
#
# Writes under ROOT only:
#   /usr/local/lib/haproxy-appliance/haproxy-appliance.cjs   the single-file build
#   /usr/local/lib/haproxy-appliance/start.cjs               runs it with V8's code cache
#   /usr/local/lib/haproxy-appliance/README.md               (the unit's Documentation=)
#   /usr/local/bin/haproxy-appliance                         launcher (or the single executable)
#   /usr/local/bin/node                                      when the image has no node
#   /etc/systemd/system/haproxy-appliance.service            the first-boot unit, enabled through
#   /etc/systemd/system/multi-user.target.wants/haproxy-appliance.service (a symlink: no
#                                                            systemctl needed, none is run)
#   /etc/systemd/system/haproxy-appliance-trust-store.service the CA into the trust store, after
#                                                            the services (enabled the same way)
#   /etc/systemd/system/{haproxy,ssh}.service.d/10-haproxy-appliance.conf   ordering drop-ins
#   /etc/systemd/system/haproxy-appliance-host-keys.service   the SSH host keys at first boot, when
#                                                            the image has none (enabled through
#                                                            ssh.service.wants/)
#   /etc/systemd/system/{multi-user,sockets,network-online,sysinit}.target.wants/…
#                                                            systemd-networkd (and its socket and
#                                                            wait-online), systemd-resolved and
#                                                            systemd-timesyncd enabled, when the
#                                                            image has them; /etc/resolv.conf a
#                                                            link to resolved's stub
#   /etc/default/haproxy-appliance                           the defaults template, if absent
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build="$repo/dist/haproxy-appliance.cjs"
node=""
copy_node=yes
sets=""

die() { echo "firstboot/install.sh: $*" >&2; exit 2; }
say() { echo "firstboot/install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --build) [ $# -ge 2 ] || die "--build needs a file"; build=$2; shift 2 ;;
    --build=*) build=${1#--build=}; shift ;;
    --node) [ $# -ge 2 ] || die "--node needs a file"; node=$2; shift 2 ;;
    --node=*) node=${1#--node=}; shift ;;
    --no-node) copy_node=no; shift ;;
    --set) [ $# -ge 2 ] || die "--set needs KEY=VALUE"; sets="$sets
$2"; shift 2 ;;
    --set=*) sets="$sets
${1#--set=}"; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || die "usage: firstboot/install.sh [--build FILE] [--node FILE | --no-node] [--set KEY=VALUE] ROOT"
root=$1
[ -d "$root" ] || die "$root is not a directory (give the image's root)"
root=$(cd "$root" && pwd)
[ "$root" != / ] || die "refusing to install into / (this installs into an image root; on a running appliance use the same paths by hand)"
[ -f "$build" ] || die "$build does not exist: run \`npm run build\` first (or give --build FILE)"

lib=/usr/local/lib/haproxy-appliance
changed=0

# put SRC DEST MODE: copy when the content or mode differs (atomic: temp file + rename).
put() {
  src=$1 dest=$root$2 mode=$3
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "$mode" ]; then return 0; fi
  mkdir -p "$(dirname "$dest")"
  tmp="$dest.install-$$"
  cp "$src" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
  say "installed $2"
  changed=$((changed + 1))
}

# link TARGET NAME: a symlink NAME (under ROOT) → TARGET (an absolute path inside the image).
link() {
  target=$1 name=$root$2
  if [ -L "$name" ] && [ "$(readlink "$name")" = "$target" ]; then return 0; fi
  mkdir -p "$(dirname "$name")"
  ln -sfn "$target" "$name"
  say "linked $2 -> $target"
  changed=$((changed + 1))
}

# The agent: a single executable (an ELF file) or the single-file build plus a launcher.
if [ "$(head -c 4 "$build" | od -An -c | tr -d ' ')" = "177ELF" ]; then
  put "$build" /usr/local/bin/haproxy-appliance 755
  copy_node=no
else
  put "$build" "$lib/haproxy-appliance.cjs" 644
  put "$(dirname "$build")/start.cjs" "$lib/start.cjs" 644
  launcher=$(mktemp)
  cat >"$launcher" <<EOF
#!/bin/sh
# Runs the haproxy-appliance agent (installed by firstboot/install.sh) with the image's node.
for node in /usr/local/bin/node /usr/bin/node; do
  [ -x "\$node" ] && exec "\$node" $lib/start.cjs "\$@"
done
echo "haproxy-appliance: node is not installed (looked for /usr/local/bin/node and /usr/bin/node)" >&2
exit 1
EOF
  put "$launcher" /usr/local/bin/haproxy-appliance 755
  rm -f "$launcher"
fi
[ -f "$repo/README.md" ] && put "$repo/README.md" "$lib/README.md" 644

# Node, unless the image has one: this machine's binary (Debian's glibc in the image runs it).
if [ "$copy_node" = yes ] && [ ! -x "$root/usr/bin/node" ]; then
  if [ -z "$node" ]; then node=$(command -v node 2>/dev/null) || die "no node on PATH: give --node FILE or --no-node"; fi
  node=$(readlink -f "$node")
  put "$node" /usr/local/bin/node 755
  # Check it runs inside the image (needs root for chroot; skipped otherwise).
  if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null 2>&1; then
    if ! v=$(chroot "$root" /usr/local/bin/node --version 2>&1); then
      die "the copied node does not run in the image ($v): install node in the image (e.g. Debian's nodejs >= 20) and use --no-node"
    fi
  fi
fi

# The units: the first-boot unit, enabled the way `systemctl enable` would (WantedBy=multi-user.target).
put "$here/haproxy-appliance.service" /etc/systemd/system/haproxy-appliance.service 644
put "$here/haproxy.service.d/10-haproxy-appliance.conf" /etc/systemd/system/haproxy.service.d/10-haproxy-appliance.conf 644
put "$here/ssh.service.d/10-haproxy-appliance.conf" /etc/systemd/system/ssh.service.d/10-haproxy-appliance.conf 644
link /etc/systemd/system/haproxy-appliance.service /etc/systemd/system/multi-user.target.wants/haproxy-appliance.service
put "$here/haproxy-appliance-trust-store.service" /etc/systemd/system/haproxy-appliance-trust-store.service 644
link /etc/systemd/system/haproxy-appliance-trust-store.service /etc/systemd/system/multi-user.target.wants/haproxy-appliance-trust-store.service

put "$here/haproxy-appliance-host-keys.service" /etc/systemd/system/haproxy-appliance-host-keys.service 644
link /etc/systemd/system/haproxy-appliance-host-keys.service /etc/systemd/system/ssh.service.wants/haproxy-appliance-host-keys.service

# The services the agent configures, enabled as `systemctl enable` would, when the image has them:
# networkd reads the agent's units (network-online.target waits for it), resolved the DNS servers
# (its stub is /etc/resolv.conf), timesyncd the NTP servers.
units=/lib/systemd/system
enable_in() {
  if [ -f "$root$units/$1" ]; then link "$units/$1" "/etc/systemd/system/$2.wants/$1"; fi
}
enable_in systemd-networkd.service multi-user.target
enable_in systemd-networkd.socket sockets.target
enable_in systemd-networkd-wait-online.service network-online.target
enable_in systemd-resolved.service multi-user.target
enable_in systemd-timesyncd.service sysinit.target
if [ -f "$root$units/systemd-resolved.service" ]; then link ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf; fi

# The defaults: the template when absent; an admin's (or an earlier run's) file is kept.
defaults=/etc/default/haproxy-appliance
if [ ! -e "$root$defaults" ]; then put "$here/default" "$defaults" 644; fi
while IFS= read -r kv; do
  [ -n "$kv" ] || continue
  key=${kv%%=*} value=${kv#*=}
  case "$key" in OVF_ENV|NICS) ;; *) die "--set $kv: KEY must be OVF_ENV or NICS" ;; esac
  case "$value" in *[!A-Za-z0-9_./:=,@+-]*) die "--set $kv: the value may hold letters, digits and _ . / : = , @ + - only" ;; esac
  line="$key=$value"
  if grep -qxF "$line" "$root$defaults"; then continue; fi
  tmp="$root$defaults.install-$$"
  grep -v "^$key=" "$root$defaults" >"$tmp" || true
  printf '%s\n' "$line" >>"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$root$defaults"
  say "set $line in $defaults"
  changed=$((changed + 1))
done <<EOF
$sets
EOF

# V8's code cache for the single-file build, made now so that the first boot starts fast too: a
# sandboxed dry run compiles the provision path (start.cjs writes the cache beside the build).
# Best effort: a node of another version in the image rejects it and the first run rewrites it.
if [ -f "$root$lib/start.cjs" ] && [ ! -f "$root$lib/haproxy-appliance.cjs.provision.cache" ]; then
  warm=$(command -v node 2>/dev/null || true)
  if [ -n "$warm" ] && [ -f "$repo/examples/ovf-env.xml" ]; then
    scratch=$(mktemp -d)
    "$warm" "$root$lib/start.cjs" provision --dry-run --root "$scratch" --ovf-env "$repo/examples/ovf-env.xml" >/dev/null 2>&1 || true
    rm -rf "$scratch"
    [ -f "$root$lib/haproxy-appliance.cjs.provision.cache" ] && say "made the code cache $lib/haproxy-appliance.cjs.provision.cache"
  fi
fi

if [ "$changed" -eq 0 ]; then say "$root is up to date"; else say "installed into $root"; fi
