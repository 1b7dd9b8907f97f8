/** `haproxy-appliance provision`: ingest → validate → (plan → render → apply). */
import { EXIT } from '../errors.js';
import type { Values } from '../cli.js';
import { loadConfiguration } from './load.js';
import { printWarnings } from './output.js';

export async function provisionCommand(values: Values): Promise<number> {
  const { env, config, warnings } = await loadConfiguration(values);
  printWarnings(warnings);
  process.stdout.write(`OVF environment from ${env.source}: valid (${config.deployment} deployment)\n`);
  return EXIT.ok;
}
