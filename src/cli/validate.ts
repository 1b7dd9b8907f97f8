/** `haproxy-appliance validate`: ingest, then validate; prints the normalized configuration, secrets redacted. */
import { EXIT } from '../errors.js';
import { redact, validateEnvironment } from '../config/validate.js';
import { ingest } from '../ingest/read.js';
import type { Values } from './command.js';
import { printWarnings } from './output.js';

export async function validateCommand(values: Values): Promise<number> {
  const { env, deployment } = await ingest({ file: values['ovf-env'], deployment: values.deployment });
  const { config, warnings } = validateEnvironment(env, { ...(deployment && { deployment }) });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok: true, source: env.source, adapters: env.adapters, warnings, config: redact(config) }, null, 2)}\n`);
  } else {
    printWarnings(warnings);
    process.stdout.write(`# OVF environment from ${env.source}: valid (${config.deployment} deployment)\n`);
    process.stdout.write(`${JSON.stringify(redact(config), null, 2)}\n`);
  }
  return EXIT.ok;
}
