/**
 * /var/lib/haproxy-appliance/state.json: what the agent applied. The verifier reads it to know
 * what the appliance should look like. It holds no secret: passwords and the CA key are removed,
 * not masked, so the file can be read by anyone who may read the configuration.
 */
import { z } from 'zod';
import type { ApplianceConfig } from '../config/types.js';

export const STATE_FORMAT = 1;

/** The configuration without its secrets. */
export type PublicConfig = Omit<ApplianceConfig, 'appliance' | 'loadbalance'> & {
  appliance: Omit<ApplianceConfig['appliance'], 'rootPassword' | 'caKey'> & { rootPasswordSet: boolean };
  loadbalance: Omit<ApplianceConfig['loadbalance'], 'haproxyPassword'>;
};

export interface AppliedState {
  format: typeof STATE_FORMAT;
  /** The agent's version. */
  version: string;
  /** ISO 8601 time of the apply. */
  appliedAt: string;
  config: PublicConfig;
  /** sha256 (hex) of every file the agent wrote, by absolute path on the appliance. */
  files: Record<string, string>;
}

export function publicConfig(config: ApplianceConfig): PublicConfig {
  const { rootPassword, caKey: _caKey, ...appliance } = config.appliance;
  const { haproxyPassword: _pwd, ...loadbalance } = config.loadbalance;
  return { ...config, appliance: { ...appliance, rootPasswordSet: rootPassword !== undefined }, loadbalance };
}

/** What state.json says of one apply, but its time: the format, the agent's version, the public configuration, the files' hashes. */
export function appliedState(config: ApplianceConfig, version: string, files: Record<string, string>): Omit<AppliedState, 'appliedAt'> {
  return { format: STATE_FORMAT, version, config: publicConfig(config), files };
}

const address = z.object({ address: z.string(), prefix: z.number(), cidr: z.string(), network: z.string() });
const nic = (role: string) => z.object({ role: z.literal(role), address: address.optional(), gateway: z.string().optional() });

/** The shape a reader (the verifier) accepts; anything else is a clear error, not a crash. */
export const appliedStateSchema = z.object({
  format: z.literal(STATE_FORMAT),
  version: z.string(),
  appliedAt: z.string(),
  config: z.object({
    deployment: z.enum(['default', 'frontend']),
    appliance: z.object({ rootPasswordSet: z.boolean(), permitRootLogin: z.boolean(), caCert: z.string().optional() }),
    network: z.object({
      hostname: z.string(),
      nameservers: z.array(z.string()),
      ntpServers: z.array(z.string()),
      management: nic('management'),
      workload: nic('workload'),
      frontend: nic('frontend').optional(),
      additionalWorkloadNetworks: z.array(z.string()),
    }),
    loadbalance: z.object({ serviceIpRanges: z.array(z.string()), dataplanePort: z.number(), haproxyUser: z.string() }),
  }),
  files: z.record(z.string(), z.string()),
});

/** Parses state.json text; returns a reason instead when it is not a state file of this format. */
export function parseAppliedState(text: string): AppliedState | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  const r = appliedStateSchema.safeParse(json);
  if (!r.success) return `is not a state file of format ${STATE_FORMAT}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  return r.data as AppliedState;
}
