/**
 * haproxy.cfg from its model: the agent's managed sections (`global`, `defaults`, `userlist
 * controller`) rendered and merged into the file on disk, every other section kept byte for byte.
 * The file carries its merge, so apply can merge again from what is there at commit time when the
 * Data Plane API rewrote it meanwhile. Pure apart from reading the templates.
 */
import type { DesiredFile } from '../plan/types.js';
import type { HaproxyModel } from '../plan/haproxy.js';
import { mergeConfig } from '../plan/haproxy-sections.js';
import { HAPROXY_CFG, STATS_SOCKET } from '../appliance/paths.js';
import { render } from './templates.js';

export function renderHaproxyCfg(model: HaproxyModel): DesiredFile {
  /** The file for what is on disk now: the agent's sections, every other section as it is. */
  const mergeWith = (existing: string | undefined): string =>
    mergeConfig(existing, render('haproxy/managed.cfg', { user: model.user, passwordHash: model.passwordHash(existing), statsSocket: STATS_SOCKET }));
  return {
    path: HAPROXY_CFG,
    check: 'haproxy',
    content: mergeWith(model.existingCfg),
    // The Data Plane API writes this file at any time: apply merges again if it did meanwhile.
    merge: { base: model.existingCfg, remerge: mergeWith },
    // Holds a password hash: root only (haproxy's master and the Data Plane API run as root);
    // secret by the registry in src/appliance/paths.ts.
    mode: 0o600,
    affects: ['haproxy', 'dataplaneapi'],
  };
}
