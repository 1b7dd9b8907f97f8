#!/usr/bin/env bash
# A single executable of the agent (Node.js SEA, Node 20): the node binary with the CommonJS
# bundle injected, so the image needs neither node nor any file of ours besides this one.
#
#   scripts/sea.sh [OUT]      default OUT: dist/sea/haproxy-appliance
#
# Steps (docs/image.md explains them):
#   1. node scripts/bundle.mjs         → dist/haproxy-appliance.cjs (SEA runs one CJS script)
#   2. node --experimental-sea-config  → the preparation blob
#   3. copy this machine's node binary and inject the blob with postject (from npm; fetched into
#      a temporary folder with `npm exec` when it is not installed)
# The result runs on machines with this node binary's architecture and a compatible glibc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-$repo/dist/sea/haproxy-appliance}
node=$(command -v node)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

node "$repo/scripts/bundle.mjs"
cat >"$work/sea-config.json" <<EOF
{ "main": "$repo/dist/haproxy-appliance.cjs", "output": "$work/sea-prep.blob", "disableExperimentalSEAWarning": true, "useCodeCache": true }
EOF
node --experimental-sea-config "$work/sea-config.json"
mkdir -p "$(dirname "$out")"
cp "$node" "$out.tmp"
chmod u+w "$out.tmp"
# postject 1.0.0-alpha.6 is what the Node.js documentation uses.
npm exec --yes --package=postject@1.0.0-alpha.6 -- postject "$out.tmp" NODE_SEA_BLOB "$work/sea-prep.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >&2
mv "$out.tmp" "$out"
v=$("$out" --version)
echo "scripts/sea.sh: $out ($(( $(stat -c %s "$out") / 1048576 )) MiB), haproxy-appliance $v" >&2
