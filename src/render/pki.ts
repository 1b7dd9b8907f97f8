/**
 * The PKI files from the key material (PEM as it is: no template): the CA and the Data Plane API's
 * server certificate with their keys in /etc/haproxy, and the CA again in the system trust store.
 */
import type { DesiredFile } from '../plan/types.js';
import type { PkiMaterial } from '../facts/types.js';
import { PKI_PATHS } from '../appliance/paths.js';

export function renderPkiFiles(material: PkiMaterial): DesiredFile[] {
  // A new server certificate reaches the API only by a restart; haproxy itself does not use it.
  // The keys are secret by the registry in src/appliance/paths.ts.
  return [
    { path: PKI_PATHS.caCert, content: material.ca.cert, mode: 0o644, affects: ['dataplaneapi', 'ca-certificates'] },
    { path: PKI_PATHS.caKey, content: material.ca.key, mode: 0o600, affects: [] },
    { path: PKI_PATHS.serverCert, content: material.server.cert, mode: 0o644, affects: ['dataplaneapi'] },
    { path: PKI_PATHS.serverKey, content: material.server.key, mode: 0o600, affects: ['dataplaneapi'] },
    { path: PKI_PATHS.trustStore, content: material.ca.cert, mode: 0o644, affects: ['ca-certificates'] },
  ];
}
