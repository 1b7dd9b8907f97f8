/**
 * SHA-512 crypt hashes as the agent writes them (the userlist's, the root-password marker's):
 * `$6$<salt>$<86 characters>`, no `rounds=`. Pure.
 */
import { verify } from 'unixcrypt';

const SHA512_CRYPT = /^\$6\$[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/u;

/**
 * Whether `hash` is such a crypt of `password`. Anything else (a truncated or edited hash, another
 * scheme) is false, never an exception: unixcrypt's verify throws on a malformed hash.
 */
export function isCryptOf(password: string, hash: string): boolean {
  return SHA512_CRYPT.test(hash) && verify(password, hash);
}
