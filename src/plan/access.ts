/**
 * Who can log in: the sshd drop-in (PermitRootLogin, ListenAddress on the management address)
 * and the root password. The OVA promises the password property applies at first boot and when
 * the property itself changes; later changes are made in the OS. So the agent remembers a
 * SHA-512 crypt of the last value it applied (root-only file) and sets the password again only
 * when the property no longer matches it. Pure: hashing takes the caller's salt.
 */
import { encrypt, verify } from 'unixcrypt';
import type { ApplianceConfig } from '../config/types.js';
import type { DesiredFile } from './types.js';
import { render } from '../render/templates.js';
import { ROOT_PASSWORD_MARKER, SSHD_DROPIN } from '../appliance/paths.js';

export interface AccessFacts {
  /** Content of ROOT_PASSWORD_MARKER, if present. */
  rootPasswordMarker?: string;
  salt: string;
}

export interface AccessPlan {
  files: DesiredFile[];
  /** Set when the password must be set: `root:<crypt>` for `chpasswd -e`, then the marker. */
  rootPassword?: { chpasswdLine: string; markerPath: string; marker: string };
}

export function planAccess(config: ApplianceConfig, facts: AccessFacts): AccessPlan {
  const files: DesiredFile[] = [{
    path: SSHD_DROPIN,
    content: render('ssh/sshd.conf', {
      permitRootLogin: config.appliance.permitRootLogin ? 'yes' : 'no',
      listenAddress: config.network.management.address?.address,
    }),
    mode: 0o644,
    affects: ['ssh'],
  }];
  const pwd = config.appliance.rootPassword;
  if (pwd === undefined) return { files };
  const marker = facts.rootPasswordMarker?.trim();
  // Unchanged property: leave the OS password alone (the admin may have changed it since).
  if (marker && marker.startsWith('$6$') && verify(pwd, marker)) return { files };
  const hash = encrypt(pwd, `$6$${facts.salt}`);
  return { files, rootPassword: { chpasswdLine: `root:${hash}\n`, markerPath: ROOT_PASSWORD_MARKER, marker: `${hash}\n` } };
}
