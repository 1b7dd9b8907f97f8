/** OVF environments declared in a given encoding, for the decoding tests (unit and integration). */
import { SEED_PROPERTIES, ovfEnv } from './ovf.js';
import { SEED_ADAPTERS } from './bad-inputs.js';

/** A root password with non-ASCII letters: what a wrong decoding would turn into replacement characters. */
export const PASSWORD = 'pässwörd';

/** The seed with PASSWORD as root password, declared with `encoding` (or no declaration). */
export function encodedEnv(encoding: string | undefined, set: Record<string, string> = {}): string {
  const xml = ovfEnv({ ...SEED_PROPERTIES, 'appliance.root_pwd': PASSWORD, ...set }, SEED_ADAPTERS);
  return encoding === undefined ? xml.replace(/^<\?xml[^>]*\?>\n/u, '') : xml.replace('encoding="UTF-8"', `encoding="${encoding}"`);
}
