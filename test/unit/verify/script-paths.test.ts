/** The collection script reads the files the agent writes. (The script itself, run by the real sh in namespaces: test/integration/verify/script.test.ts.) */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HAPROXY_CFG, PKI_PATHS, STATE_FILE } from '../../../src/appliance/paths.js';
import { APPLIANCE_PATHS } from '../../../src/verify/script.js';

test("the paths the script reads are the agent's", () => {
  assert.equal(APPLIANCE_PATHS.haproxyCfg, HAPROXY_CFG);
  assert.equal(APPLIANCE_PATHS.caCert, PKI_PATHS.caCert);
  assert.equal(APPLIANCE_PATHS.serverCert, PKI_PATHS.serverCert);
  assert.equal(APPLIANCE_PATHS.state, STATE_FILE);
});
