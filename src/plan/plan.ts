/**
 * Planning: the validated configuration and the NIC identities in, the desired state out
 * (files, live NIC renames, files to remove). Pure: no writes, no commands, no clock, no
 * environment; the only reads are the package's own templates. The same inputs give the same
 * plan, byte for byte.
 */
import type { ApplianceConfig } from '../config/types.js';
import { networkModel } from '../network/model.js';
import { renamesFor } from '../network/nics.js';
import { ownedNetworkPaths } from '../network/scheme.js';
import { renderNetworkFiles } from '../render/network.js';
import type { NicAssignment, Plan } from './types.js';

export function planAppliance(config: ApplianceConfig, nics: NicAssignment[]): Plan {
  const files = renderNetworkFiles(networkModel(config, nics));
  const written = new Set(files.map((f) => f.path));
  return {
    files,
    renames: renamesFor(nics),
    remove: ownedNetworkPaths().filter((p) => !written.has(p)),
  };
}
