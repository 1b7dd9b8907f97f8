/**
 * The Data Plane API's files from its model: the systemd unit always, and dataplaneapi.yaml when
 * the installed version reads it (2.9 and later; before that the unit passes flags). Pure apart
 * from reading the templates.
 */
import type { DesiredFile } from '../plan/types.js';
import type { DataplaneModel } from '../plan/dataplane.js';
import { DATAPLANEAPI_BIN, DATAPLANEAPI_UNIT, DATAPLANEAPI_YAML, MASTER_SOCKET } from '../appliance/paths.js';
import { render } from './templates.js';

export function renderDataplaneFiles(model: DataplaneModel): DesiredFile[] {
  const yaml = model.form === 'yaml';
  const data = {
    binary: DATAPLANEAPI_BIN,
    yaml,
    yamlPath: DATAPLANEAPI_YAML,
    tlsHost: model.tlsHost,
    port: model.port,
    reloadDelay: model.reloadDelay,
    masterSocket: MASTER_SOCKET,
    name: model.name,
  };
  const files: DesiredFile[] = [
    { path: DATAPLANEAPI_UNIT, content: render('dataplaneapi/dataplaneapi.service', data), mode: 0o644, affects: ['dataplaneapi'] },
  ];
  if (yaml) files.push({ path: DATAPLANEAPI_YAML, content: render('dataplaneapi/dataplaneapi.yaml', data), mode: 0o600, affects: ['dataplaneapi'] });
  return files;
}
