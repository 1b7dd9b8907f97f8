/**
 * The OVF environment as the support bundle uses it: its secret values, to scrub them from every
 * member (never printed), and a listing of its properties for the bundle with those values
 * removed: the values of the declared non-secret properties only (an undeclared property's value
 * is not collected: it could be anything).
 */
import { PROPERTY_BY_KEY } from '../config/properties.js';
import type { OvfEnvironment } from '../config/types.js';
import { binary, type SecretValue } from './redact.js';

/** The values to scrub: each secret property's value as given, and as validation normalizes it (a PEM key restored). */
export async function secretValues(env: OvfEnvironment): Promise<SecretValue[]> {
  const values: SecretValue[] = [];
  for (const [key, value] of Object.entries(env.properties)) if (PROPERTY_BY_KEY.get(key)?.secret && value !== '') values.push({ property: key, value });
  try {
    const { validateEnvironment } = await import('../config/validate.js');
    const { config } = validateEnvironment(env);
    const normalized: [string, string | undefined][] = [
      ['appliance.root_pwd', config.appliance.rootPassword],
      ['appliance.ca_cert_key', config.appliance.caKey],
      ['loadbalance.haproxy_pwd', config.loadbalance.haproxyPassword],
    ];
    for (const [property, value] of normalized) if (value !== undefined && value !== '') values.push({ property, value });
  } catch {
    // An environment that does not validate: its raw values are scrubbed all the same.
  }
  return values;
}

/** ovf-environment.txt: where it came from, its adapters, and its properties, secret values removed. */
export function environmentListing(env: OvfEnvironment): string {
  const lines = [`# OVF environment from ${env.source}`, '# secret properties: value removed; undeclared properties: value not collected', ''];
  for (const a of env.adapters) lines.push(`adapter ${JSON.stringify(a)}`);
  for (const key of Object.keys(env.properties).sort()) {
    const decl = PROPERTY_BY_KEY.get(key);
    const value = env.properties[key]!;
    if (!decl) lines.push(`${key} = (undeclared property; value not collected)`);
    else if (decl.secret) lines.push(`${key} = ${value === '' ? '(unset)' : '(set; value removed)'}`);
    else lines.push(`${key} = ${JSON.stringify(value)}`);
  }
  return binary(`${lines.join('\n')}\n`);
}
