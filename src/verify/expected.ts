/**
 * What the appliance should look like: the configuration (from the appliance's state.json or a
 * local OVF environment given with --expect) and the network the agent builds from it, computed
 * by the agent's own model (src/network/model.ts) so the verifier never drifts from the scheme.
 * Pure.
 */
import type { ApplianceConfig, NicConfig, NicRole } from '../config/types.js';
import { networkModel, type NetworkModel } from '../network/model.js';
import type { PublicConfig } from '../state/state.js';

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
    return networkModel(asApplianceConfig(cfg), roles.map((role) => ({ role, mac: '00:00:00:00:00:00' })));
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
