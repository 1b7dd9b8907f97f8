/**
 * What the appliance should look like: the configuration (from the appliance's state.json or a
 * local OVF environment given with --expect) and the network the agent builds from it, computed
 * by the agent's own model (src/plan/network.ts) so the verifier never drifts from the scheme.
 * Pure.
 */
import type { ApplianceConfig, NicConfig, NicRole } from '../config/types.js';
import { networkModel, type NetworkModel } from '../plan/network.js';
import { parseAppliedState, parseStateFile, type PublicConfig } from '../appliance/state.js';
import { STATE_FILE } from '../appliance/paths.js';
import type { CheckInput, Expected, Observed } from './types.js';

/** The public configuration as the full type the model takes (the model reads no secret). */
function asApplianceConfig(cfg: PublicConfig): ApplianceConfig {
  const { rootPasswordSet: _set, ...appliance } = cfg.appliance;
  return { ...cfg, appliance, loadbalance: { ...cfg.loadbalance, haproxyPassword: '' } };
}

export function nicsOf(cfg: PublicConfig): NicConfig[] {
  return [cfg.network.management, cfg.network.workload, ...(cfg.network.frontend ? [cfg.network.frontend] : [])];
}

/** The network model of `cfg`, or why it cannot be built. NIC MACs do not matter to the checks. */
export function expectedModel(cfg: PublicConfig): NetworkModel | string {
  const roles: NicRole[] = nicsOf(cfg).map((n) => n.role);
  try {
    return networkModel(
      asApplianceConfig(cfg),
      roles.map((role) => ({ role, mac: '00:00:00:00:00:00' })),
    );
  } catch (err) {
    return (err as Error).message;
  }
}

/** Differences between two configurations, as `path: a → b` lines (for state.json vs --expect). */
export function configDifferences(a: unknown, b: unknown, path = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => configDifferences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  const show = (v: unknown) => (v === undefined ? '(unset)' : typeof v === 'string' && v.includes('BEGIN') ? '(a PEM certificate)' : JSON.stringify(v));
  return [`${path}: ${show(a)} → ${show(b)}`];
}

/** The expected configuration: --expect wins; state.json is compared with it when both exist. */
export function expectedFor(
  observed: Observed,
  expect: { file: string; config: PublicConfig } | undefined,
): Pick<CheckInput, 'expected' | 'expectedProblem' | 'stateDifferences'> {
  const state = observed.stateText !== undefined ? parseAppliedState(observed.stateText) : undefined;
  const stateErr = observed.sections.state?.stderr;
  if (expect) {
    const expected: Expected = { config: expect.config, source: { kind: 'expect', file: expect.file } };
    if (state && typeof state !== 'string') return { expected, stateDifferences: configDifferences(state.config, expect.config) };
    return { expected };
  }
  if (state === undefined) {
    const why =
      stateErr && /No such file/iu.test(stateErr)
        ? `${STATE_FILE} does not exist (the agent has not run)`
        : `${STATE_FILE} is unreadable${stateErr ? `: ${stateErr.split('\n')[0]}` : ''}`;
    return { expectedProblem: why };
  }
  if (typeof state === 'string') {
    const only = parseStateFile(observed.stateText!);
    if (typeof only !== 'string' && only.lastRun)
      return {
        expectedProblem: `${STATE_FILE} records no applied configuration: the agent's last run failed and nothing was applied before it (see provision.last-run)`,
      };
    return { expectedProblem: `${STATE_FILE} ${state}` };
  }
  return { expected: { config: state.config, source: { kind: 'state', path: STATE_FILE, version: state.version, appliedAt: state.appliedAt } } };
}
