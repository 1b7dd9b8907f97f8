/**
 * `haproxy-appliance status`, its pure parts: the parsers of what it reads (/proc/locks,
 * `systemctl show`, `haproxy -v`, `dataplaneapi --version`), the verdict and its exit code from
 * crafted facts (ok, failed naming the property, running, no run, an older state.json), the
 * text and JSON, and the record of what a run changed (capped).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateProperties } from '../../../src/config/validate.js';
import { MAX_RECORDED_CHANGES, parseStateFile, type LastRun } from '../../../src/appliance/state.js';
import { failedRun, recordedChanges, stateWriter } from '../../../src/apply/state.js';
import { problem } from '../../../src/problems.js';
import { dataplaneVersionOf, devParts, flockedIn, haproxyVersionOf, parseProcLocks, parseSystemctlShow, type StatusFacts } from '../../../src/facts/status.js';
import { renderStatusJson, renderStatusText, STATUS_EXIT, statusReport, waitingLine } from '../../../src/cli/status-report.js';
import { waitBound } from '../../../src/cli/status.js';
import { InputError } from '../../../src/errors.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';

const CONFIG = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;
const FILES = { '/etc/haproxy/haproxy.cfg': 'ab'.repeat(32) };
const RUN = {
  files: [
    { path: '/etc/haproxy/haproxy.cfg', action: 'update' as const },
    { path: '/etc/systemd/network/20-management.network', action: 'create' as const },
  ],
  renames: [{ from: 'eth0', to: 'management' }],
  ran: ['systemctl reload haproxy.service'],
};
const WARNING = problem('network.management_ip', 'dataplane-any-address', 'the management NIC is on DHCP');

/** What an agent writes after a run that changed RUN, with a warning. */
const applied = () => stateWriter(CONFIG, '9.9.9', 'ISO transport (/dev/sr0)', [WARNING]).render(FILES, RUN);
function withRecord(text: string, record: LastRun | undefined): string {
  const json = JSON.parse(text) as Record<string, unknown>;
  if (record) json.lastRun = record;
  else delete json.lastRun;
  return `${JSON.stringify(json, null, 2)}\n`;
}

const facts = (over: Partial<StatusFacts> = {}): StatusFacts => ({
  root: '/',
  lock: { held: false },
  agentUnit: { unit: 'haproxy-appliance.service', active: 'active', sub: 'exited', load: 'loaded' },
  services: [
    { unit: 'haproxy.service', active: 'active', sub: 'running', load: 'loaded' },
    { unit: 'dataplaneapi.service', active: 'failed', sub: 'failed', load: 'loaded' },
    { unit: 'systemd-networkd.service', active: 'active', sub: 'running', load: 'loaded' },
  ],
  versions: { agent: '9.9.9', haproxy: '2.6.12-1+deb12u1', dataplaneapi: '2.8.1' },
  notes: [],
  ...over,
});

test('the record of a run: what it changed (files, renames, commands, in order), its warnings and version; read back', () => {
  const parsed = parseStateFile(applied());
  assert.ok(typeof parsed !== 'string');
  const { at, ...rest } = parsed.lastRun!;
  assert.equal(at, parsed.applied!.appliedAt);
  assert.deepEqual(rest, {
    outcome: 'applied',
    source: 'ISO transport (/dev/sr0)',
    version: '9.9.9',
    changes: [
      { action: 'update', target: '/etc/haproxy/haproxy.cfg' },
      { action: 'create', target: '/etc/systemd/network/20-management.network' },
      { action: 'rename', target: 'eth0 to management' },
      { action: 'run', target: 'systemctl reload haproxy.service' },
    ],
    warnings: [{ at: 'network.management_ip', code: 'dataplane-any-address', message: 'the management NIC is on DHCP' }],
  });
  // Capped, the rest counted.
  const many = recordedChanges({ files: Array.from({ length: 120 }, (_, i) => ({ path: `/f${i}`, action: 'create' as const })), ran: ['x'] });
  assert.equal(many.changes!.length, MAX_RECORDED_CHANGES);
  assert.equal(many.moreChanges, 121 - MAX_RECORDED_CHANGES);
  assert.deepEqual(recordedChanges({ files: [] }), { changes: [] });
  // The new fields do not make a rerun rewrite the file: the same configuration from the same source is the same.
  assert.equal(stateWriter(CONFIG, '9.9.9', 'ISO transport (/dev/sr0)').same(applied(), FILES), true);
});

test('/proc/locks: flocks by device and inode, waiters left out; glibc major/minor', () => {
  const locks = parseProcLocks(
    [
      '1: FLOCK  ADVISORY  WRITE 24740 fe:00:2150596 0 EOF',
      '1: -> FLOCK  ADVISORY  WRITE 24790 fe:00:2150596 0 EOF',
      '2: POSIX  ADVISORY  WRITE 811 00:1a:77 0 EOF',
      '3: OFDLCK ADVISORY  READ -1 08:01:4242 0 EOF',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    locks.map((l) => [l.type, l.pid, l.major, l.minor, l.inode]),
    [
      ['FLOCK', 24740, 0xfe, 0, 2150596n],
      ['POSIX', 811, 0, 0x1a, 77n],
      ['OFDLCK', -1, 8, 1, 4242n],
    ],
  );
  assert.deepEqual(devParts(65024n), { major: 0xfe, minor: 0 });
  assert.deepEqual(devParts((259n << 8n) | 3n), { major: 259, minor: 3 });
  // glibc's makedev() of major 0x1001, minor 0x345: the high bits of each go above bit 32 and bit 20.
  assert.deepEqual(devParts((0x001n << 8n) | (0x1000n << 32n) | 0x45n | (0x300n << 12n)), { major: 0x1001, minor: 0x345 }, 'the high bits of glibc encoding');
  assert.equal(flockedIn(locks, 65024n, 2150596n), true);
  assert.equal(flockedIn(locks, 65025n, 2150596n), false, 'another device');
  assert.equal(flockedIn(locks, 0x1an, 77n), false, 'a POSIX lock is not the run lock');
});

test('systemctl show of several units; haproxy -v and dataplaneapi --version', () => {
  const units = parseSystemctlShow(
    'Id=haproxy-appliance.service\nLoadState=loaded\nActiveState=activating\nSubState=start\nJob=123\n\nId=haproxy.service\nLoadState=loaded\nActiveState=active\nSubState=running\nJob=\n\nId=dataplaneapi.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n',
  );
  assert.deepEqual(units, [
    { unit: 'haproxy-appliance.service', active: 'activating', sub: 'start', load: 'loaded', job: '123' },
    { unit: 'haproxy.service', active: 'active', sub: 'running', load: 'loaded' },
    { unit: 'dataplaneapi.service', active: 'inactive', sub: 'dead', load: 'not-found' },
  ]);
  assert.equal(haproxyVersionOf('HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/\nStatus: long-term'), '2.6.12-1+deb12u1');
  assert.equal(haproxyVersionOf('HA-Proxy version 2.0.33 2023/06/02'), '2.0.33');
  assert.equal(haproxyVersionOf('nothing here'), undefined);
  assert.equal(dataplaneVersionOf('HAProxy Data Plane API v2.8.1 4bd4e67\n'), '2.8.1');
  assert.equal(dataplaneVersionOf('dataplaneapi 2.1.0'), '2.1.0');
  assert.equal(dataplaneVersionOf('\n'), undefined);
});

test('ok: the last run applied; the text says when, from where, what changed, warnings, versions, services', () => {
  const r = statusReport(facts({ stateText: applied() }));
  assert.equal(r.status, 'ok');
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.services, { haproxy: 'active (running)', dataplaneapi: 'failed', 'systemd-networkd': 'active (running)' });
  const text = renderStatusText(r);
  const lines = text.split('\n');
  assert.equal(lines[0], 'status: ok');
  assert.match(lines[1]!, /^last run: \d{4}-\d\d-\d\dT.*Z \(agent 9\.9\.9\): applied the configuration$/u);
  assert.equal(lines[2], 'OVF environment: ISO transport (/dev/sr0)');
  assert.deepEqual(lines.slice(3, 8), [
    'changed: 4 items',
    '  updated /etc/haproxy/haproxy.cfg',
    '  created /etc/systemd/network/20-management.network',
    '  renamed eth0 to management',
    '  ran: systemctl reload haproxy.service',
  ]);
  assert.deepEqual(lines.slice(8, 10), ['warnings: 1', '  network.management_ip: the management NIC is on DHCP (dataplane-any-address)']);
  assert.ok(lines.includes('versions: agent 9.9.9, haproxy 2.6.12-1+deb12u1, dataplaneapi 2.8.1'), text);
  assert.ok(lines.includes('services: haproxy active (running), dataplaneapi failed, systemd-networkd active (running)'), text);
  const json = JSON.parse(renderStatusJson(r)) as { status: string; exitCode: number; lastRun: LastRun };
  assert.equal(json.status, 'ok');
  assert.equal(json.exitCode, 0);
  assert.equal(json.lastRun.changes!.length, 4);
});

test('failed: errors name the property and code; the configuration kept is said; exit 1', () => {
  const bad = withRecord(
    applied(),
    failedRun('input-error', [problem('network.nameservers', 'not-ip', '"1.1.1.x" is not an IP address')], 'ISO transport (/dev/sr0)', {
      version: '9.9.9',
      warnings: [WARNING],
    }),
  );
  const r = statusReport(facts({ stateText: bad }));
  assert.equal(r.status, 'failed');
  assert.equal(r.exitCode, STATUS_EXIT.failed);
  assert.equal(r.exitCode, 1);
  const text = renderStatusText(r);
  assert.match(text, /^status: failed\nlast run: .* \(agent 9\.9\.9\): refused the OVF environment \(bad input; nothing was changed\)\n/u);
  assert.match(text, /\nerrors: 1\n {2}network\.nameservers: "1\.1\.1\.x" is not an IP address \(not-ip\)\n/u);
  assert.match(text, /\nwarnings: 1\n/u);
  assert.match(text, /\nlast applied: .* \(agent 9\.9\.9\)\n/u);
  // A failed first run: the record alone.
  const only = `${JSON.stringify({ format: 1, lastRun: failedRun('apply-failed', [{ at: 'apply', code: 'apply-failed', message: 'haproxy -c failed' }]) })}\n`;
  const f = statusReport(facts({ stateText: only }));
  assert.equal(f.status, 'failed');
  assert.doesNotMatch(renderStatusText(f), /last applied/u);
  assert.match(renderStatusText(f), /: failed to apply\n/u);
});

test('running: the lock held, the unit activating or queued; it wins over the last outcome; exit 3', () => {
  const cases: [Partial<StatusFacts>, RegExp][] = [
    [{ lock: { held: true, pid: 4242 } }, /^a provision run holds the run lock \(pid 4242\)$/u],
    [{ lock: { held: true } }, /^a provision run holds the run lock$/u],
    [{ agentUnit: { unit: 'haproxy-appliance.service', active: 'activating', sub: 'start' } }, /^haproxy-appliance\.service is activating \(start\)$/u],
    [
      { agentUnit: { unit: 'haproxy-appliance.service', active: 'inactive', sub: 'dead', job: '17' } },
      /^haproxy-appliance\.service has a job queued \(job 17\)$/u,
    ],
  ];
  for (const [over, why] of cases) {
    const r = statusReport(facts({ stateText: applied(), ...over }));
    assert.equal(r.status, 'running', JSON.stringify(over));
    assert.equal(r.exitCode, 3);
    assert.match(r.running![0]!, why);
    assert.match(renderStatusText(r), /^status: running\n {2}/u);
    assert.match(waitingLine(r, 59_500), /^waiting for the provision run to finish \(.+\); giving up in 60 s$/u);
  }
  // Not running: the unit done, the lock free.
  assert.equal(statusReport(facts({ stateText: applied(), lock: { held: 'unknown', why: 'x' } })).status, 'ok');
});

test('no run: no state.json, or one that is not a state file: exit 2; an older state.json without the record: ok, with a note', () => {
  const none = statusReport(facts({ services: undefined, agentUnit: undefined, unitsUnknown: 'systemctl is not installed' }));
  assert.equal(none.status, 'not-run');
  assert.equal(none.exitCode, 2);
  const text = renderStatusText(none);
  assert.match(text, /^status: not run\n/u);
  assert.match(text, /\nnote: no state\.json: the agent has not run here yet\n/u);
  assert.match(text, /\nnote: services not read: systemctl is not installed\n/u);
  assert.doesNotMatch(text, /\nservices:/u);
  const junk = statusReport(facts({ stateText: '{"format": 7}' }));
  assert.equal(junk.status, 'not-run');
  assert.match(junk.notes[0]!, /^state\.json is not a state file of format 1/u);
  const old = statusReport(facts({ stateText: withRecord(applied(), undefined) }));
  assert.equal(old.status, 'ok');
  assert.equal(old.exitCode, 0);
  assert.match(old.notes[0]!, /has no record of the last run: an older agent wrote it/u);
  assert.equal(old.lastRun, undefined);
  // A record of an agent before `changes`: read, and said so.
  const older = withRecord(applied(), { at: '2026-01-01T00:00:00.000Z', outcome: 'applied' });
  assert.match(renderStatusText(statusReport(facts({ stateText: older }))), /\nchanged: not recorded/u);
});

test('what a hostile state.json holds reaches no terminal raw', () => {
  const evil = withRecord(applied(), failedRun('input-error', [problem('network.x\u001b[2J', 'not-ip', 'bad\nstatus: ok')]));
  const text = renderStatusText(statusReport(facts({ stateText: evil })));
  assert.ok(!text.includes('\u001b'));
  assert.ok(!text.includes('\nstatus: ok'), text);
});

test('--wait [SECONDS]: the bound is the one positional, a whole number, only with --wait', () => {
  assert.equal(waitBound({ wait: true }, []), undefined);
  assert.equal(waitBound({ wait: true }, ['60']), 60);
  assert.equal(waitBound({ wait: true }, ['0']), 0);
  const refused = (values: Record<string, boolean>, pos: string[], at: string, code: string) => {
    try {
      waitBound(values, pos);
    } catch (err) {
      assert.ok(err instanceof InputError);
      assert.deepEqual([err.problems[0].at, err.problems[0].code], [at, code]);
      return;
    }
    assert.fail(`${pos.join(' ')} accepted`);
  };
  refused({}, ['60'], 'arguments', 'bad-usage');
  refused({ wait: true }, ['60', '70'], 'arguments', 'bad-usage');
  refused({ wait: true }, ['1m'], '--wait', 'not-number');
  refused({ wait: true }, ['86401'], '--wait', 'not-number');
});
