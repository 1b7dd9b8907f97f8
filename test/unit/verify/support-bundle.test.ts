/**
 * verify --support-bundle's per-host messages (src/verify/support.ts): why a host reached gave no
 * bundle, said in one sentence with what to do, and the bundle's file name for a host.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleFileName, noBundleError, REMOTE_COMMAND } from '../../../src/verify/support.js';

test('no agent on the host, not root, an old agent, a failed run: each its own sentence', () => {
  const none = noBundleError('root', 'lb1', 127, 'sh: 1: exec: haproxy-appliance: not found\n', 0);
  assert.equal(none.kind, 'collect');
  assert.match(none.message, /^lb1: no haproxy-appliance agent on this host \(sh: 1: exec: haproxy-appliance: not found\)$/u);
  assert.match(none.remedy!, /firstboot\/install\.sh/u);
  const user = noBundleError(
    'admin',
    'lb1',
    2,
    'haproxy-appliance support: run it as root: it reads root-only files (haproxy.cfg, state.json, the journals)\n',
    0,
  );
  assert.match(user.message, /^admin@lb1: the support bundle needs root \(haproxy-appliance support: run it as root/u);
  assert.match(user.remedy!, /--user root/u);
  const old = noBundleError('root', 'lb1', 2, 'haproxy-appliance: unknown command "support"; run haproxy-appliance --help\n', 0);
  assert.match(old.message, /too old for support bundles/u);
  const failed = noBundleError('root', 'lb1', 1, 'haproxy-appliance: internal error: boom\n', 0);
  assert.equal(failed.message, 'lb1: haproxy-appliance support exited 1: haproxy-appliance: internal error: boom');
  const empty = noBundleError('root', 'lb1', 0, '', 12);
  assert.match(empty.message, /exited 0 but sent no gzip archive \(12 bytes\)/u);
});

test('the bundle file name: the host made safe, the port when not 22', () => {
  assert.equal(bundleFileName('10.0.0.5', 22), '10.0.0.5.tar.gz');
  assert.equal(bundleFileName('lb1.corp', 2222), 'lb1.corp-2222.tar.gz');
  assert.equal(bundleFileName('fe80::1%eth0', 22), 'fe80_1_eth0.tar.gz');
  assert.equal(bundleFileName('../../etc/passwd', 22), '__.._etc_passwd.tar.gz');
  assert.match(REMOTE_COMMAND, /exec haproxy-appliance support --output -$/u);
});
