/** `haproxy-appliance validate`: prints the normalized configuration, secrets redacted. */
import { EXIT } from '../errors.js';
import { redact } from '../config/validate.js';
import type { Values } from './command.js';
import { loadConfiguration } from './load.js';
import { printWarnings } from './output.js';

export async function validateCommand(values: Values): Promise<number> {
  const { env, config, warnings } = await loadConfiguration(values);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok: true, source: env.source, adapters: env.adapters, warnings, config: redact(config) }, null, 2)}\n`);
  } else {
    printWarnings(warnings);
    process.stdout.write(`# OVF environment from ${env.source}: valid (${config.deployment} deployment)\n`);
    process.stdout.write(`${JSON.stringify(redact(config), null, 2)}\n`);
  }
  return EXIT.ok;
}
