/**
 * Planning: the validated configuration, the NIC identities and the facts read from the machine
 * in, the desired state out (files, live NIC renames, files to remove, the root password, the
 * Data Plane API's enablement). Pure: no writes, no commands, no clock, no randomness (salts and
 * key material are facts); the only reads are the package's own templates. The same inputs give
 * the same plan, byte for byte.
 */
import type { ApplianceConfig } from '../config/types.js';
import { networkModel, renamesFor } from './network.js';
import { PKI_PATHS, ownedNetworkPaths } from '../appliance/paths.js';
import { renderNetworkFiles } from '../render/network.js';
import { planHaproxyConfig } from './haproxy.js';
import { planDataplane } from './dataplane.js';
import { planAccess } from './access.js';
import { planPkiFiles } from './pki.js';
import type { ApplianceFacts } from '../facts/types.js';
import type { NicAssignment, Plan } from './types.js';
import { markSecrets } from './secrets.js';

/** The network part alone: units, names, hostname, NTP. */
export function planNetwork(config: ApplianceConfig, nics: NicAssignment[]): Plan {
  const files = renderNetworkFiles(networkModel(config, nics));
  const written = new Set(files.map((f) => f.path));
  return {
    files,
    renames: renamesFor(nics),
    remove: ownedNetworkPaths().filter((p) => !written.has(p)),
  };
}

/** Everything the appliance gets. */
export function planAppliance(config: ApplianceConfig, nics: NicAssignment[], facts: ApplianceFacts): Plan {
  const network = planNetwork(config, nics);
  const dataplane = planDataplane(config, {
    ...(facts.dataplaneVersionOutput !== undefined && { versionOutput: facts.dataplaneVersionOutput }),
    ...(facts.dataplaneVersionUnknown !== undefined && { unknownReason: facts.dataplaneVersionUnknown }),
  });
  const access = planAccess(config, { ...(facts.rootPasswordMarker !== undefined && { rootPasswordMarker: facts.rootPasswordMarker }), salt: facts.salts.root });
  const haproxy = planHaproxyConfig(config, { ...(facts.haproxyCfg !== undefined && { existingCfg: facts.haproxyCfg }), salt: facts.salts.userlist });
  // Without new key material the PKI files stay as they are; only the CA on disk still in use is published,
  // and the Data Plane API is not started without a certificate to serve.
  const publishCa = facts.pki ? facts.pki.ca.cert : facts.pkiKept?.caCert;
  const apiWithoutCert = !facts.pki && facts.pkiKept?.serverKeyPair !== true;
  return {
    // Secret files are marked (and made 0600) here, from the one registry.
    files: markSecrets([...network.files, ...(facts.pki ? planPkiFiles(facts.pki) : []), haproxy, ...dataplane.files, ...access.files]),
    renames: network.renames,
    remove: network.remove,
    dataplaneEnabled: dataplane.enable,
    ...(dataplane.enable && apiWithoutCert && { dataplaneHeld: `its certificate and key (${PKI_PATHS.serverCert}, ${PKI_PATHS.serverKey}) are not there and could not be made` }),
    ...(access.rootPassword && { rootPassword: access.rootPassword }),
    ...(publishCa !== undefined && { publishCa }),
    warnings: dataplane.warnings,
  };
}
