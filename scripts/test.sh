#!/bin/sh
# Runs the test suite by level, in one node --test process so the closing summary counts them all.
#   sh scripts/test.sh            every level: unit, then integration, then e2e
#   sh scripts/test.sh unit       no root, no network, no service, never the CLI: pure code on fixtures
#                                 (seconds; xmllint and ssh-keygen serve as oracles in a few tests)
#   sh scripts/test.sh integration  real networkd, haproxy, sshd, OpenSSL in namespaces and sandboxes
#   sh scripts/test.sh e2e        booted appliance images (systemd-nspawn, QEMU)
# Extra arguments after the level go to node --test (e.g. --test-name-pattern=golden).
set -eu
cd "$(dirname "$0")/.."
level="${1:-all}"
[ $# -gt 0 ] && shift
case "$level" in
  all) dirs="unit integration e2e" ;;
  unit|integration|e2e) dirs="$level" ;;
  *) echo "usage: sh scripts/test.sh [all|unit|integration|e2e] [node --test options]" >&2; exit 2 ;;
esac
files=""
for d in $dirs; do
  [ -d "test/$d" ] || continue
  files="$files $(find "test/$d" -name '*.test.ts' | LC_ALL=C sort | tr '\n' ' ')"
done
# Unit test files share nothing (each its own temp folders), so they run one per core; the beds of
# integration and e2e share the machine's namespaces and services, so one file at a time.
concurrency=1
[ "$level" = unit ] && concurrency="$(nproc 2>/dev/null || echo 1)"
# shellcheck disable=SC2086 # the file list is meant to split
exec node --import tsx --test --test-concurrency="$concurrency" "$@" $files
