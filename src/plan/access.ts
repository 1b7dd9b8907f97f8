/**
 * Who can log in: sshd's settings (PermitRootLogin, ListenAddress on the management address; the
 * drop-in is src/render/access.ts) and the root password. The OVA promises the password property
 * applies at first boot and when the property itself changes; later changes are made in the OS.
 * So the agent remembers a SHA-512 crypt of the last value it applied (root-only file) and sets
 * the password again only when the property no longer matches it. Pure: hashing takes the
 * caller's salt.
 */
import { encrypt } from 'unixcrypt';
import type { ApplianceConfig } from '../config/types.js';
import { ROOT_PASSWORD_MARKER } from '../appliance/paths.js';
import { isCryptOf } from './crypt.js';

export interface AccessFacts {
  /** Content of ROOT_PASSWORD_MARKER, if present. */
  rootPasswordMarker?: string;
  salt: string;
}

export interface AccessModel {
  /** What the sshd drop-in says: root may log in or not; listen on the management address only, when it is static. */
  sshd: { permitRootLogin: boolean; listenAddress?: string };
  /** Set when the password must be set: `root:<crypt>` for `chpasswd -e`, then the marker. */
  rootPassword?: { chpasswdLine: string; markerPath: string; marker: string };
}

export function accessModel(config: ApplianceConfig, facts: AccessFacts): AccessModel {
  const listenAddress = config.network.management.address?.address;
  const sshd = { permitRootLogin: config.appliance.permitRootLogin, ...(listenAddress !== undefined && { listenAddress }) };
  const pwd = config.appliance.rootPassword;
  if (pwd === undefined) return { sshd };
  const marker = facts.rootPasswordMarker?.trim();
  // Unchanged property: leave the OS password alone (the admin may have changed it since). A
  // marker that is no such crypt (truncated, edited) proves nothing: the password is set again.
  if (marker && isCryptOf(pwd, marker)) return { sshd };
  const hash = encrypt(pwd, `$6$${facts.salt}`);
  return { sshd, rootPassword: { chpasswdLine: `root:${hash}\n`, markerPath: ROOT_PASSWORD_MARKER, marker: `${hash}\n` } };
}
