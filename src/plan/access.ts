/**
 * Who can log in: sshd's settings (PermitRootLogin, ListenAddress on the management address; the
 * drop-in is src/render/access.ts), root's authorized keys and the root password. The OVA promises
 * the password property applies at first boot and when the property itself changes; later changes
 * are made in the OS. So the agent remembers a SHA-512 crypt of the last value it applied
 * (root-only file) and sets the password again only when the property no longer matches it. Pure:
 * hashing takes the caller's salt.
 *
 * Root's keys (appliance.ssh_authorized_keys) go into a marked block of /root/.ssh/authorized_keys
 * that the agent owns: every run replaces the block with the property's keys (in place, where it
 * was), and every line outside it, keys an admin added by hand, is kept as it is. A blank property
 * removes the block; a file without a block and a blank property is left alone.
 */
import { encrypt } from 'unixcrypt';
import type { ApplianceConfig } from '../config/types.js';
import { ROOT_PASSWORD_MARKER } from '../appliance/paths.js';
import { isCryptOf } from './crypt.js';

export interface AccessFacts {
  /** Content of ROOT_PASSWORD_MARKER, if present. */
  rootPasswordMarker?: string;
  /** Content of /root/.ssh/authorized_keys, if present. */
  authorizedKeys?: string;
  salt: string;
}

/** sshd's PermitRootLogin value. */
export type PermitRootLogin = 'yes' | 'no' | 'prohibit-password';

export interface AccessModel {
  /** What the sshd drop-in says: root may log in or not (or with a key only); listen on the management address only, when it is static. */
  sshd: { permitRootLogin: PermitRootLogin; listenAddress?: string };
  /**
   * Root's authorized_keys, when it must be written: the whole new text (the agent's block merged
   * into what is there), the text it was merged from, and the merge to make again from another text.
   */
  authorizedKeys?: { content: string; base: string | undefined; remerge: (current: string | undefined) => string };
  /** Set when the password must be set: `root:<crypt>` for `chpasswd -e`, then the marker. */
  rootPassword?: { chpasswdLine: string; markerPath: string; marker: string };
}

/** The first and last line of the agent's block in root's authorized_keys. */
export const KEYS_BEGIN =
  '# BEGIN haproxy-appliance: the keys of appliance.ssh_authorized_keys; every provision run replaces this block, keep your own keys outside it';
export const KEYS_END = '# END haproxy-appliance';

/**
 * `current` (root's authorized_keys, or undefined) with the agent's block holding `keys`: the old
 * block replaced where it was (a second one dropped), or the block appended; no keys, no block.
 * A BEGIN line without its END drops only that line (the keys after it are kept: an edit by hand
 * never locks anyone out). Lines outside the block are kept byte for byte.
 */
export function mergeAuthorizedKeys(current: string | undefined, keys: readonly string[]): string {
  const block = keys.length ? [KEYS_BEGIN, ...keys, KEYS_END] : [];
  const lines = current === undefined || current === '' ? [] : current.replace(/\n$/u, '').split('\n');
  const out: string[] = [];
  let placed = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== KEYS_BEGIN) {
      out.push(lines[i]!);
      continue;
    }
    const end = lines.indexOf(KEYS_END, i + 1);
    if (end < 0) continue; // a BEGIN without END: drop that line only
    if (!placed) out.push(...block);
    placed = true;
    i = end;
  }
  if (!placed) out.push(...block);
  return out.length ? `${out.join('\n')}\n` : '';
}

function permitRootLogin(v: ApplianceConfig['appliance']['permitRootLogin']): PermitRootLogin {
  return v === 'prohibit-password' ? v : v ? 'yes' : 'no';
}

export function accessModel(config: ApplianceConfig, facts: AccessFacts): AccessModel {
  const listenAddress = config.network.management.address?.address;
  const sshd = { permitRootLogin: permitRootLogin(config.appliance.permitRootLogin), ...(listenAddress !== undefined && { listenAddress }) };
  const keys = config.appliance.sshAuthorizedKeys;
  const hasBlock = facts.authorizedKeys?.split('\n').includes(KEYS_BEGIN) === true;
  // No keys and no block of ours: the file (an admin's, or none) is not the agent's business.
  const authorizedKeys =
    keys.length || hasBlock
      ? {
          content: mergeAuthorizedKeys(facts.authorizedKeys, keys),
          base: facts.authorizedKeys,
          remerge: (cur: string | undefined) => mergeAuthorizedKeys(cur, keys),
        }
      : undefined;
  const base = { sshd, ...(authorizedKeys && { authorizedKeys }) };
  const pwd = config.appliance.rootPassword;
  if (pwd === undefined) return base;
  const marker = facts.rootPasswordMarker?.trim();
  // Unchanged property: leave the OS password alone (the admin may have changed it since). A
  // marker that is no such crypt (truncated, edited) proves nothing: the password is set again.
  if (marker && isCryptOf(pwd, marker)) return base;
  const hash = encrypt(pwd, `$6$${facts.salt}`);
  return { ...base, rootPassword: { chpasswdLine: `root:${hash}\n`, markerPath: ROOT_PASSWORD_MARKER, marker: `${hash}\n` } };
}
