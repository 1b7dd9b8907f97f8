/**
 * Ingest + validate, shared by every command that reads the OVF environment: the environment
 * from its transport, then the validated configuration, or an InputError listing every problem.
 */
import { InputError, inputError, nonEmpty } from '../errors.js';
import type { Problem } from '../problems.js';
import type { ApplianceConfig, Deployment, OvfEnvironment } from '../config/types.js';
import { validateProperties } from '../config/validate.js';
import { quote } from '../config/limits.js';
import { readOvfEnvironment } from '../ingest/transports.js';
import type { Values } from './command.js';

export interface Loaded {
  env: OvfEnvironment;
  config: ApplianceConfig;
  warnings: Problem[];
}

function deploymentOption(value: unknown): Deployment | undefined {
  if (value === undefined) return undefined;
  if (value === 'default' || value === 'frontend') return value;
  throw inputError('--deployment', 'not-deployment', `${typeof value === 'string' ? quote(value) : JSON.stringify(value)} is not a deployment configuration; use default or frontend`);
}

/** Reads (from `file`, or the transports) and validates; an InputError lists every problem. */
export async function loadEnvironment(options: { file?: string; deployment?: Deployment }): Promise<Loaded> {
  const env = await readOvfEnvironment({ ...(options.file !== undefined && { file: options.file }) });
  const result = validateProperties(env.properties, {
    ...(options.deployment && { deployment: options.deployment }),
    ...(env.adapters.length > 0 && { adapterCount: env.adapters.length }),
  });
  if (!result.config) {
    const n = result.problems.length;
    throw new InputError(`the OVF environment from ${env.source} has ${n} problem${n === 1 ? '' : 's'}; nothing was changed`, nonEmpty(result.problems), result.warnings);
  }
  return { env, config: result.config, warnings: result.warnings };
}

/** `--ovf-env` and `--deployment` of validate and provision. */
export async function loadConfiguration(values: Values): Promise<Loaded> {
  const deployment = deploymentOption(values.deployment);
  return loadEnvironment({ ...(typeof values['ovf-env'] === 'string' && { file: values['ovf-env'] }), ...(deployment && { deployment }) });
}
