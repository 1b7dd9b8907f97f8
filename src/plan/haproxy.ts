/**
 * haproxy.cfg's model: what the agent's managed sections say (the API user and the crypt of its
 * password) and the file on disk they are merged into (src/render/haproxy.ts renders and merges,
 * so the Data Plane API's sections survive every rerun). Pure: the password hash is reused when
 * the existing one still verifies, else made from the salt the caller supplies.
 */
import { encrypt } from 'unixcrypt';
import type { ApplianceConfig } from '../config/types.js';
import { parseSections } from './haproxy-sections.js';
import { isCryptOf } from './crypt.js';

/** Salt alphabet of crypt(3). */
const SALT = /^[./0-9A-Za-z]{1,16}$/u;

/**
 * A SHA-512 crypt hash the Data Plane API accepts: `$6$<salt>$<hash>`, four `$`-separated parts,
 * no `rounds=`. `existing` is reused when it is such a hash of `password`.
 */
export function userlistHash(password: string, salt: string, existing?: string): string {
  if (existing && isCryptOf(password, existing)) return existing;
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

export interface HaproxyModel {
  /** The Data Plane API's user in `userlist controller`. */
  user: string;
  /** The current haproxy.cfg the managed sections are merged into (undefined: there is none). */
  existingCfg?: string;
  /**
   * The crypt of the API password for haproxy.cfg as it is when written (`current`): the hash
   * already there while it still verifies, else a new one with the facts' salt. A function of the
   * file, because apply merges again when the Data Plane API rewrote the file meanwhile.
   */
  passwordHash: (current: string | undefined) => string;
}

export function haproxyModel(config: ApplianceConfig, facts: HaproxyFacts): HaproxyModel {
  const { haproxyUser: user, haproxyPassword } = config.loadbalance;
  return {
    user,
    ...(facts.existingCfg !== undefined && { existingCfg: facts.existingCfg }),
    passwordHash: (current) => userlistHash(haproxyPassword, facts.salt, existingUserHash(current, user)),
  };
}
