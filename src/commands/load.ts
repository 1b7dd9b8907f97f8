/**
 * Ingest + validate, shared by every command that reads the OVF environment: the environment
 * from its transport, then the validated configuration, or an InputError listing every problem.
 */
import { InputError } from '../errors.js';
import type { ApplianceConfig, Deployment, OvfEnvironment } from '../config/types.js';
import { validateProperties } from '../config/validate.js';
import { readOvfEnvironment } from '../ingest/transports.js';
import type { Values } from '../cli.js';

export interface Loaded {
  env: OvfEnvironment;
  config: ApplianceConfig;
  warnings: string[];
}

function deploymentOption(value: unknown): Deployment | undefined {
  if (value === undefined) return undefined;
  if (value === 'default' || value === 'frontend') return value;
  throw new InputError(`--deployment: ${JSON.stringify(value)} is not a deployment configuration; use default or frontend`);
}

export async function loadConfiguration(values: Values): Promise<Loaded> {
  const deployment = deploymentOption(values.deployment);
  const env = await readOvfEnvironment({ ...(typeof values['ovf-env'] === 'string' && { file: values['ovf-env'] }) });
  const result = validateProperties(env.properties, {
    ...(deployment && { deployment }),
    ...(env.adapters.length > 0 && { adapterCount: env.adapters.length }),
  });
  if (!result.config) {
    const n = result.problems.length;
    throw new InputError(`the OVF environment from ${env.source} has ${n} problem${n === 1 ? '' : 's'}; nothing was changed`, result.problems, result.warnings);
  }
  return { env, config: result.config, warnings: result.warnings };
}
