/**
 * The `ssh-access` section: `mode OCTAL OWNER PATH` lines (stat of /root/.ssh and its
 * authorized_keys), `key BITS SHA256:… COMMENT (TYPE)` lines (ssh-keygen -l of authorized_keys),
 * and `sshd KEYWORD VALUE` lines (sshd -T). Pure.
 */
export interface SshAccess {
  /** By path: the octal mode and the owner. */
  modes: Record<string, { mode: number; owner: string }>;
  /** SHA256 fingerprints of the keys in root's authorized_keys. */
  fingerprints: string[];
  /** sshd -T's settings, lower-case keyword → value (empty when sshd -T could not run). */
  sshd: Record<string, string>;
}

export function parseSshAccess(text: string): SshAccess {
  const out: SshAccess = { modes: {}, fingerprints: [], sshd: {} };
  for (const line of text.split('\n')) {
    let m = /^mode ([0-7]{3,4}) (\S+) (\/\S+)$/u.exec(line);
    if (m) {
      out.modes[m[3]!] = { mode: parseInt(m[1]!, 8), owner: m[2]! };
      continue;
    }
    m = /^key \d+ (SHA256:[A-Za-z0-9+/]+)\b/u.exec(line);
    if (m) {
      out.fingerprints.push(m[1]!);
      continue;
    }
    m = /^sshd (\S+) (.*)$/u.exec(line);
    if (m) out.sshd[m[1]!.toLowerCase()] = m[2]!.trim();
  }
  return out;
}
