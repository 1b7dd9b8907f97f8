/**
 * /var/lib/haproxy-appliance/state.json: what the agent applied. The verifier reads it to know
 * what the appliance should look like. It holds no secret: passwords and the CA key are removed,
 * not masked, so the file can be read by anyone who may read the configuration.
 *
 * `lastRun` (optional: agents before it did not write it, and a file without it still reads) is
 * the outcome of the last provision run on the live system: `applied`, `input-error` (exit 2)
 * or `apply-failed` (exit 1), with where the OVF environment came from and, for a failure, its
 * problems (at, code, message: never a secret). A failed run changes only this record; the rest
 * of the file still says what was last applied. A failed first run, with nothing applied yet,
 * leaves a file of the record alone (`{ format, lastRun }`).
 *
 * The record also says (each optional, so a record of an earlier agent still reads) which agent
 * ran (`version`), what the run changed (`changes`: files created, updated, re-moded or removed,
 * NICs renamed, commands run, as `describeAction` shows them: never a secret; at most
 * MAX_RECORDED_CHANGES, the rest counted in `moreChanges`), and its warnings (at, code, message;
 * at most MAX_RECORDED_PROBLEMS). `haproxy-appliance status` shows it (docs/operations.md).
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
  /** The outcome of the last run (absent in files of older agents). */
  lastRun?: LastRun;
}

export type RunOutcome = 'applied' | 'input-error' | 'apply-failed';

/** What went wrong, as the run reported it: `at` (a property, an option, a part), a problem code, the message. */
export interface RecordedProblem {
  at: string;
  code: string;
  message: string;
}

export interface LastRun {
  /** ISO 8601 time the outcome was recorded. */
  at: string;
  outcome: RunOutcome;
  /** Where the OVF environment came from (`ISO transport (/dev/sr0)`, `file /x.xml`), when it was read. */
  source?: string;
  /** For a failure: what went wrong (at most MAX_RECORDED_PROBLEMS). */
  problems?: RecordedProblem[];
  /** Its warnings (at most MAX_RECORDED_PROBLEMS). */
  warnings?: RecordedProblem[];
  /** The agent's version that ran. */
  version?: string;
  /** What the run changed, in order (at most MAX_RECORDED_CHANGES). */
  changes?: RecordedChange[];
  /** Changes past MAX_RECORDED_CHANGES, counted. */
  moreChanges?: number;
}

/** One thing a run changed: a file (`create`, `update`, `mode`, `remove`: its path), a NIC `rename` (`eth0 to management`), a command `run` (as shown in the journal, secrets never). */
export interface RecordedChange {
  action: 'create' | 'update' | 'mode' | 'remove' | 'rename' | 'run';
  target: string;
}

/** A run's changes recorded at most (the rest are counted). */
export const MAX_RECORDED_CHANGES = 50;

/** A failure's problems recorded at most. */
export const MAX_RECORDED_PROBLEMS = 20;

/** A state file written by a failed first run: the record alone, nothing applied yet. */
export interface RecordOnlyState {
  format: typeof STATE_FORMAT;
  lastRun: LastRun;
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

export const lastRunSchema = z.object({
  at: z.string(),
  outcome: z.enum(['applied', 'input-error', 'apply-failed']),
  source: z.string().optional(),
  problems: z.array(z.object({ at: z.string(), code: z.string(), message: z.string() })).optional(),
  warnings: z.array(z.object({ at: z.string(), code: z.string(), message: z.string() })).optional(),
  version: z.string().optional(),
  changes: z.array(z.object({ action: z.enum(['create', 'update', 'mode', 'remove', 'rename', 'run']), target: z.string() })).optional(),
  moreChanges: z.number().optional(),
});

const address = z.object({ address: z.string(), prefix: z.number(), cidr: z.string(), network: z.string() });
const nic = (role: string) => z.object({ role: z.literal(role), address: address.optional(), gateway: z.string().optional() });

/** The shape a reader (the verifier) accepts; anything else is a clear error, not a crash. */
export const appliedStateSchema = z.object({
  format: z.literal(STATE_FORMAT),
  version: z.string(),
  appliedAt: z.string(),
  config: z.object({
    deployment: z.enum(['default', 'frontend']),
    appliance: z.object({
      rootPasswordSet: z.boolean(),
      // A boolean in every agent's files; prohibit-password since appliance.ssh_authorized_keys.
      permitRootLogin: z.union([z.boolean(), z.literal('prohibit-password')]),
      // Absent in the files of agents before it: no keys.
      sshAuthorizedKeys: z.array(z.string()).default([]),
      caCert: z.string().optional(),
    }),
    network: z.object({
      hostname: z.string(),
      nameservers: z.array(z.string()),
      ntpServers: z.array(z.string()),
      management: nic('management'),
      workload: nic('workload'),
      frontend: nic('frontend').optional(),
      additionalWorkloadNetworks: z.array(z.string()),
      // Absent in the files of agents before network.static_routes / network.search_domains: none.
      staticRoutes: z.array(z.object({ destination: z.string(), gateway: z.string() })).default([]),
      searchDomains: z.array(z.string()).default([]),
    }),
    loadbalance: z.object({ serviceIpRanges: z.array(z.string()), dataplanePort: z.number(), haproxyUser: z.string() }),
  }),
  files: z.record(z.string(), z.string()),
  lastRun: lastRunSchema.optional(),
});

const recordOnlySchema = z.object({ format: z.literal(STATE_FORMAT), lastRun: lastRunSchema });

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

/**
 * Any state file of this format: what was applied (absent after a failed first run) and the last
 * run's record (absent in files of older agents). A reason instead when it is neither.
 */
export function parseStateFile(text: string): { applied?: AppliedState; lastRun?: LastRun } | string {
  const applied = parseAppliedState(text);
  if (typeof applied !== 'string') return { applied, ...(applied.lastRun && { lastRun: applied.lastRun }) };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return applied;
  }
  const only = recordOnlySchema.safeParse(json);
  return only.success ? { lastRun: only.data.lastRun } : applied;
}
