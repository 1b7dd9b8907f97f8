/** What several benchmarks share: the median and p90, and OpenSSH running the verifier's collection script. */

/** The median of `xs` (NaN when empty). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The 90th percentile of `xs` (the value at or below which 90 % of them lie). */
export function p90(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;
}

/**
 * `ssh` as the peer of `haproxy-appliance verify`: key authentication with `identity`, only the
 * given known_hosts file, no configuration file, and the collection script read from stdin by
 * `sh` (`ssh root@HOST 'LC_ALL=C exec /bin/sh -s' < script`).
 */
export function opensshCollect(identity: string, knownHosts: string, host: string): string[] {
  return [
    'ssh',
    '-q',
    '-i',
    identity,
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-F',
    '/dev/null',
    `root@${host}`,
    'LC_ALL=C exec /bin/sh -s',
  ];
}
