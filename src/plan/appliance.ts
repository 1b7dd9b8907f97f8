/**
 * Planning: the validated configuration, the NIC identities and the facts read from the machine
 * in, the desired state out (files, live NIC renames, files to remove, the root password, the
 * Data Plane API's enablement). Each part is planned into a model (data: src/plan/network.ts,
 * haproxy.ts, dataplane.ts, access.ts; the PKI's model is the key material itself), and each model
 * rendered into its files (src/render/); this module composes the two, so the whole plan and the
 * order of its files read in one place. Pure: no writes, no commands, no clock, no randomness
 * (salts and key material are facts); the only reads are the package's own templates. The same
 * inputs give the same plan, byte for byte.
 */
import type { ApplianceConfig } from '../config/types.js';
import type { ApplianceFacts } from '../facts/types.js';
import { PKI_PATHS, ownedNetworkPaths } from '../appliance/paths.js';
import { networkModel, renamesFor } from './network.js';
import { haproxyModel } from './haproxy.js';
import { dataplaneModel } from './dataplane.js';
import { accessModel } from './access.js';
import { markSecrets } from './secrets.js';
import type { NicAssignment, Plan } from './types.js';
import { renderNetworkFiles } from '../render/network.js';
import { renderHaproxyCfg } from '../render/haproxy.js';
import { renderDataplaneFiles } from '../render/dataplane.js';
import { renderAccessFiles } from '../render/access.js';
import { renderPkiFiles } from '../render/pki.js';

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
  const haproxy = haproxyModel(config, { ...(facts.haproxyCfg !== undefined && { existingCfg: facts.haproxyCfg }), salt: facts.salts.userlist });
  const dataplane = dataplaneModel(config, {
    ...(facts.dataplaneVersionOutput !== undefined && { versionOutput: facts.dataplaneVersionOutput }),
    ...(facts.dataplaneVersionUnknown !== undefined && { unknownReason: facts.dataplaneVersionUnknown }),
  });
  const access = accessModel(config, {
    ...(facts.rootPasswordMarker !== undefined && { rootPasswordMarker: facts.rootPasswordMarker }),
    ...(facts.authorizedKeys !== undefined && { authorizedKeys: facts.authorizedKeys }),
    salt: facts.salts.root,
  });
  // Without new key material the PKI files stay as they are; only the CA on disk still in use is published,
  // and the Data Plane API is not started without a certificate to serve.
  const publishCa = facts.pki ? facts.pki.ca.cert : facts.pkiKept?.caCert;
  const apiWithoutCert = !facts.pki && facts.pkiKept?.serverKeyPair !== true;
  const files = [
    ...network.files,
    ...(facts.pki ? renderPkiFiles(facts.pki) : []),
    renderHaproxyCfg(haproxy),
    ...renderDataplaneFiles(dataplane),
    ...renderAccessFiles(access),
  ];
  return {
    // Secret files are marked (and made 0600) here, from the one registry.
    files: markSecrets(files),
    renames: network.renames,
    remove: network.remove,
    dataplaneEnabled: dataplane.enable,
    ...(dataplane.enable &&
      apiWithoutCert && { dataplaneHeld: `its certificate and key (${PKI_PATHS.serverCert}, ${PKI_PATHS.serverKey}) are not there and could not be made` }),
    ...(access.rootPassword && { rootPassword: access.rootPassword }),
    ...(publishCa !== undefined && { publishCa }),
    warnings: dataplane.warnings,
  };
}
