/**
 * haproxy.cfg: the agent's managed sections rendered from the configuration and merged into the
 * existing file, so the Data Plane API's sections survive every rerun. Pure: the password hash is
 * reused when the existing one still verifies, else made from the salt the caller supplies.
 */
import { encrypt, verify } from 'unixcrypt';
import type { ApplianceConfig } from '../config/types.js';
import type { DesiredFile } from './types.js';
import { render } from '../render/templates.js';
import { mergeConfig, parseSections } from './haproxy-sections.js';
import { HAPROXY_CFG, STATS_SOCKET } from '../appliance/paths.js';

/** Salt alphabet of crypt(3). */
const SALT = /^[./0-9A-Za-z]{1,16}$/u;

/**
 * A SHA-512 crypt hash the Data Plane API accepts: `$6$<salt>$<hash>`, four `$`-separated parts,
 * no `rounds=`. `existing` is reused when it is such a hash of `password`.
 */
export function userlistHash(password: string, salt: string, existing?: string): string {
  if (existing && /^\$6\$[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/u.test(existing) && verify(password, existing)) return existing;
  if (!SALT.test(salt)) throw new Error('userlistHash: the salt must be 1-16 characters of [./0-9A-Za-z]');
  return encrypt(password, `$6$${salt}`);
}

/** The password hash of `user` in the existing `userlist controller`, if any. */
export function existingUserHash(cfg: string | undefined, user: string): string | undefined {
  if (!cfg) return undefined;
  const section = parseSections(cfg).sections.find((s) => s.keyword === 'userlist' && s.name === 'controller');
  for (const line of section?.text.split('\n') ?? []) {
    const m = /^\s*user\s+(\S+)\s+password\s+(\S+)/u.exec(line);
    if (m && m[1] === user) return m[2];
  }
  return undefined;
}

export interface HaproxyFacts {
  /** The current /etc/haproxy/haproxy.cfg, if there is one. */
  existingCfg?: string;
  /** A fresh random salt, used only when a new hash is needed. */
  salt: string;
}

export function planHaproxyConfig(config: ApplianceConfig, facts: HaproxyFacts): DesiredFile {
  const { haproxyUser: user, haproxyPassword } = config.loadbalance;
  /** The file for what is on disk now: the agent's sections, every other section as it is. */
  const mergeWith = (existing: string | undefined): string => {
    const passwordHash = userlistHash(haproxyPassword, facts.salt, existingUserHash(existing, user));
    return mergeConfig(existing, render('haproxy/managed.cfg', { user, passwordHash, statsSocket: STATS_SOCKET }));
  };
  return {
    path: HAPROXY_CFG,
    check: 'haproxy',
    content: mergeWith(facts.existingCfg),
    // The Data Plane API writes this file at any time: apply merges again if it did meanwhile.
    merge: { base: facts.existingCfg, remerge: mergeWith },
    // Holds a password hash: root only (haproxy's master and the Data Plane API run as root);
    // secret by the registry in src/appliance/paths.ts.
    mode: 0o600,
    affects: ['haproxy', 'dataplaneapi'],
  };
}
