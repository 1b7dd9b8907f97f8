/**
 * Ingest as the commands use it: the `--deployment` option and the OVF environment from
 * `--ovf-env FILE` or the transports (src/ingest/transports.ts). What comes out is raw: property
 * strings and adapters, not yet validated (that is src/config/validate.ts's validateEnvironment).
 */
import { inputError } from '../errors.js';
import type { Deployment, OvfEnvironment } from '../config/types.js';
import { quote } from '../config/limits.js';
import { readOvfEnvironment } from './transports.js';

export interface Ingested {
  env: OvfEnvironment;
  /** `--deployment`, when given: it wins over the adapter count. */
  deployment?: Deployment;
}

/** `--deployment`: `default` or `frontend`. */
export function deploymentOption(value: unknown): Deployment | undefined {
  if (value === undefined) return undefined;
  if (value === 'default' || value === 'frontend') return value;
  throw inputError(
    '--deployment',
    'not-deployment',
    `${typeof value === 'string' ? quote(value) : JSON.stringify(value)} is not a deployment configuration; use default or frontend`,
  );
}

/** `--deployment` checked first (no reading for a mistyped option), then the environment read. */
export async function ingest(options: { file?: unknown; deployment?: unknown }): Promise<Ingested> {
  const deployment = deploymentOption(options.deployment);
  const env = await readOvfEnvironment({ ...(typeof options.file === 'string' && { file: options.file }) });
  return { env, ...(deployment && { deployment }) };
}
