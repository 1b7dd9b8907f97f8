/**
 * state.json's record of the last run (`lastRun`): its format (written by the state writer, read
 * back; a file of an older agent without it still reads) and the `provision.last-run` check on
 * crafted observed state: pass, fail naming the property and code, warn "cannot tell", skip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateProperties } from '../../../src/config/validate.js';
import { parseAppliedState, parseStateFile, type LastRun } from '../../../src/appliance/state.js';
import { failedRun, stateWriter } from '../../../src/apply/state.js';
import { failureRecord, recordRoot } from '../../../src/cli/provision.js';
import { VERSION } from '../../../src/cli/version.js';
import { ApplyError, InputError } from '../../../src/errors.js';
import { problem } from '../../../src/problems.js';
import { checkContext } from '../../../src/verify/checks/check.js';
import { checkLastRun } from '../../../src/verify/checks/state.js';
import { runChecks } from '../../../src/verify/checks/index.js';
import { expectedFor } from '../../../src/verify/expected.js';
import type { CheckResult, Observed } from '../../../src/verify/types.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';

const CONFIG = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;
const FILES = { '/etc/haproxy/haproxy.cfg': 'ab'.repeat(32) };

function observed(stateText?: string): Observed {
  return {
    sections:
      stateText === undefined
        ? { state: { rc: 1, stdout: '', stderr: 'cat: x: No such file or directory' } }
        : { state: { rc: 0, stdout: stateText, stderr: '' } },
    certs: [],
    missingCerts: [],
    haproxyCfgPath: '/etc/haproxy/haproxy.cfg',
    ...(stateText !== undefined && { stateText }),
  };
}

const lastRun = (text?: string): CheckResult[] => {
  const o = observed(text);
  return checkLastRun(checkContext({ observed: o, ...expectedFor(o, undefined), now: new Date() }, 22));
};

/** The text an agent of this version writes after applying, then with its record replaced. */
function written(source = 'ISO transport (/dev/sr0)'): string {
  return stateWriter(CONFIG, '9.9.9', source).render(FILES);
}
function withRecord(text: string, record: LastRun): string {
  const json = JSON.parse(text) as Record<string, unknown>;
  json.lastRun = record;
  return `${JSON.stringify(json, null, 2)}\n`;
}
function oldFormat(text: string): string {
  const { lastRun: _drop, ...rest } = JSON.parse(text) as Record<string, unknown>;
  return `${JSON.stringify(rest, null, 2)}\n`;
}

test('the state writer records the run (applied, its source) and reads back; a rerun from the same source is the same', () => {
  const text = written();
  const parsed = parseStateFile(text);
  assert.ok(typeof parsed !== 'string', typeof parsed === 'string' ? parsed : '');
  assert.equal(parsed.applied?.version, '9.9.9');
  assert.deepEqual(parsed.lastRun, { at: parsed.applied.appliedAt, outcome: 'applied', source: 'ISO transport (/dev/sr0)' });
  const w = stateWriter(CONFIG, '9.9.9', 'ISO transport (/dev/sr0)');
  assert.equal(w.same(text, FILES), true, 'nothing to rewrite on a plain reboot');
  assert.equal(stateWriter(CONFIG, '9.9.9', 'guestinfo via vmtoolsd').same(text, FILES), false, 'another transport is recorded');
  assert.equal(w.same(oldFormat(text), FILES), false, "an older agent's file gets the record once");
  const failed = withRecord(text, failedRun('input-error', [problem('network.nameservers', 'not-ip', 'is bad')], 'ISO transport (/dev/sr0)'));
  assert.equal(w.same(failed, FILES), false, 'a success after a failure records it');
});

test('a state.json without lastRun (older agents) still parses; a record-only file parses with no applied configuration', () => {
  const old = oldFormat(written());
  const a = parseAppliedState(old);
  assert.ok(typeof a !== 'string', typeof a === 'string' ? a : '');
  assert.equal(a.lastRun, undefined);
  const p = parseStateFile(old);
  assert.ok(typeof p !== 'string');
  assert.equal(p.lastRun, undefined);
  assert.equal(p.applied?.config.network.hostname, CONFIG.network.hostname);

  const record = failedRun('input-error', [
    problem('appliance.root_pwd', 'password-length', 'the root password is 3 characters long; it must be 6 to 128 characters'),
  ]);
  const only = `${JSON.stringify({ format: 1, lastRun: record }, null, 2)}\n`;
  const q = parseStateFile(only);
  assert.ok(typeof q !== 'string');
  assert.equal(q.applied, undefined);
  assert.deepEqual(q.lastRun, record);
  assert.equal(typeof parseAppliedState(only), 'string', 'nothing applied: no expected configuration');
  assert.match(expectedFor(observed(only), undefined).expectedProblem!, /records no applied configuration: the agent's last run failed/u);
  // A malformed record is not a state file of this format.
  assert.equal(typeof parseStateFile(withRecord(written(), { at: 'x', outcome: 'exploded' } as unknown as LastRun)), 'string');
});

test('provision.last-run passes when the last run applied, naming when and the source', () => {
  const [r] = lastRun(written());
  assert.equal(r!.status, 'pass');
  assert.match(r!.message, /^the last provisioning run \(.+, OVF environment from ISO transport \(\/dev\/sr0\)\) applied the configuration$/u);
});

test('provision.last-run fails on a refused OVF environment, naming the property and the code, with the remedy', () => {
  const text = withRecord(
    written(),
    failedRun(
      'input-error',
      [problem('network.nameservers', 'not-ip', '"1.1.1.x" is not an IP address'), problem('loadbalance.dataplane_port', 'not-port', '"0" is not a port')],
      'ISO transport (/dev/sr0)',
    ),
  );
  const [r] = lastRun(text);
  assert.equal(r!.status, 'fail');
  assert.match(
    r!.message,
    /refused the OVF environment: network\.nameservers: "1\.1\.1\.x" is not an IP address \(not-ip\); loadbalance\.dataplane_port: "0" is not a port \(not-port\); the appliance keeps the configuration applied at /u,
  );
  assert.equal(
    r!.remedy,
    'fix the vApp property network.nameservers, fix the vApp property loadbalance.dataplane_port and power-cycle the VM, or run haproxy-appliance provision on the appliance once it is fixed',
  );
  // Not a property: the remedy names what it is.
  const [n] = lastRun(withRecord(written(), failedRun('input-error', [problem('--nics', 'not-mac', 'x')])));
  assert.match(n!.remedy!, /^fix --nics and power-cycle/u);
  // A failed first run: nothing applied yet.
  const [f] = lastRun(`${JSON.stringify({ format: 1, lastRun: failedRun('input-error', [problem('network.hostname', 'hostname-numeric', 'bad')]) })}\n`);
  assert.equal(f!.status, 'fail');
  assert.match(f!.message, /network\.hostname: bad \(hostname-numeric\); nothing was ever applied$/u);
});

test('provision.last-run fails on a failed apply, with the message and where to look', () => {
  const [r] = lastRun(withRecord(written(), failureRecord(new ApplyError('the new /etc/haproxy/haproxy.cfg failed its check: x'), {})));
  assert.equal(r!.status, 'fail');
  assert.match(r!.message, /failed to apply: apply: the new \/etc\/haproxy\/haproxy\.cfg failed its check: x \(apply-failed\)/u);
  assert.match(r!.remedy!, /journalctl -u haproxy-appliance/u);
});

test('provision.last-run warns "cannot tell" for an older state.json, and skips without one', () => {
  const [w] = lastRun(oldFormat(written()));
  assert.equal(w!.status, 'warn');
  assert.match(w!.message, /^cannot tell how the last provisioning run ended: .* has no record of it/u);
  const [u] = lastRun('{not json');
  assert.equal(u!.status, 'warn');
  const [s] = lastRun(undefined);
  assert.equal(s!.status, 'skip');
  // In the registry, after the state check.
  const o = observed(oldFormat(written()));
  const all = runChecks({ observed: o, ...expectedFor(o, undefined), now: new Date() });
  assert.deepEqual(
    all.filter((x) => x.id === 'state' || x.id === 'provision.last-run').map((x) => `${x.id} ${x.status}`),
    ['state pass', 'provision.last-run warn'],
  );
});

test('the record of a failure: problems as reported (at, code, message), secrets cut out of an apply message; only the live system records', () => {
  const err = new InputError('x', [problem('appliance.root_pwd', 'password-length', 'the root password is 3 characters long; it must be 6 to 128 characters')]);
  const rec = failureRecord(err, { source: 'file /x.xml' });
  assert.deepEqual(
    { ...rec, at: 'T' },
    {
      at: 'T',
      outcome: 'input-error',
      source: 'file /x.xml',
      problems: [{ at: 'appliance.root_pwd', code: 'password-length', message: 'the root password is 3 characters long; it must be 6 to 128 characters' }],
      version: VERSION,
    },
  );
  const apply = failureRecord(new ApplyError('chpasswd said s3cr3t-pw was weak'), { secrets: ['s3cr3t-pw'] });
  assert.equal(apply.problems![0]!.message, 'chpasswd said (redacted) was weak');
  assert.equal(failureRecord(new TypeError('boom s3cr3t'), {}).problems![0]!.message.includes('s3cr3t'), false);
  assert.equal(recordRoot({}), '/');
  assert.equal(recordRoot({ root: '/tmp/x' }), undefined);
  assert.equal(recordRoot({ 'dry-run': true }), undefined);
});

test('provision.last-run with the fuller record (agent version, what changed, warnings): passes saying so, fails naming the property', () => {
  const run = { files: [{ path: '/etc/haproxy/haproxy.cfg', action: 'update' as const }], ran: ['systemctl reload haproxy.service'] };
  const warning = problem('network.management_ip', 'dataplane-any-address', 'the management NIC is on DHCP');
  const text = stateWriter(CONFIG, '9.9.9', 'ISO transport (/dev/sr0)', [warning]).render(FILES, run);
  const [p] = lastRun(text);
  assert.equal(p!.status, 'pass');
  assert.match(
    p!.message,
    /^the last provisioning run \(.+, agent 9\.9\.9, OVF environment from ISO transport \(\/dev\/sr0\)\) applied the configuration; it changed 2 items \(haproxy-appliance status lists them\); with 1 warning: network\.management_ip \(dataplane-any-address\)$/u,
  );
  const [same] = lastRun(stateWriter(CONFIG, '9.9.9').render(FILES, { files: [] }));
  assert.match(same!.message, /applied the configuration; it changed nothing$/u);
  // A refusal recorded by this agent (version, warnings): FAIL, with the error, the property and its code.
  const refused = failureRecord(new InputError('x', [problem('loadbalance.service_ip_range', 'not-cidr', '"10.0.0.0/33x" is not a CIDR')], [warning]), {
    source: 'ISO transport (/dev/sr0)',
  });
  assert.equal(refused.warnings?.[0]?.at, 'network.management_ip');
  const [f] = lastRun(withRecord(text, refused));
  assert.equal(f!.status, 'fail');
  assert.match(
    f!.message,
    /^the last provisioning run \(.+, agent .+, OVF environment from ISO transport \(\/dev\/sr0\)\) refused the OVF environment: loadbalance\.service_ip_range: "10\.0\.0\.0\/33x" is not a CIDR \(not-cidr\); the appliance keeps the configuration applied at /u,
  );
  assert.match(f!.remedy!, /^fix the vApp property loadbalance\.service_ip_range and power-cycle the VM/u);
});
