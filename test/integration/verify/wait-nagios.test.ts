/**
 * `verify --wait` and `verify --nagios` against the seed appliance of the verifier's bed (the
 * real sshd, haproxy and systemd-networkd in network namespaces: test/harness/verify-bed.ts):
 *
 * - --nagios: OK (exit 0) with its performance data, CRITICAL (exit 2) with haproxy stopped and
 *   the failures listed, UNKNOWN (exit 3) for a refused connection;
 * - --wait with sshd stopped: the verifier says it tries again, sshd is started, and the same
 *   run ends green (exit 0) after more than one attempt;
 * - --wait with a check that never passes (haproxy stopped): the last result at the deadline,
 *   exit 1; a refused host key is not tried again (one attempt, exit 2).
 *
 * Needs root; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { validateProperties } from '../../../src/config/validate.js';
import { canRunNetworkBeds } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { ROOT, SEED_MACS, SEED_PROPERTIES } from '../../harness/ovf.js';
import { World, makePki, SEED_SANS, sshKeygen, type Appliance, type KeyPair } from '../../harness/verify-bed.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;
const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;
const API_PASSWORD = 'vmware';

interface Json {
  exitCode: number;
  hosts: { error?: { kind: string }; attempts?: number; checks: { id: string; subject?: string; status: string }[] }[];
}

/** `label=value[UOM];warn;crit;min;max` items after the `|` of a plugin's status line. */
function perfdata(line: string): Map<string, string> {
  const perf = line.split(' | ')[1];
  assert.ok(perf, line);
  return new Map(
    perf.split(' ').map((item) => {
      assert.match(item, /^[a-z_]+=(\d+(ms)?|U);[^;]*;[^;]*;[^;]*$/u, item);
      return [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)] as [string, string];
    }),
  );
}

describe('verify --wait and --nagios against a seed appliance in network namespaces', { skip, timeout: 300_000 }, () => {
  let world: World;
  let app: Appliance;
  let client: KeyPair;
  let knownHosts: string;
  const bedIds: string[] = [];

  before(async () => {
    world = await World.create();
    bedIds.push(world.bed.id);
    const pki = await makePki(join(world.dir, 'pki'), SEED_SANS);
    const hostKey = await sshKeygen(join(world.dir, 'host_key'));
    client = await sshKeygen(join(world.dir, 'client_key'));
    app = await world.addAppliance({ name: 'app', config, macs: SEED_MACS, network: 'networkd', pki, hostKey, authorizedKeys: [client.pub] });
    knownHosts = join(world.dir, 'known_hosts');
    await writeFile(knownHosts, `${app.knownHostsLine()}\n`);
  });

  after(async () => {
    await world?.cleanup();
    await assertNothingLeft({ bedIds });
  });

  const base = (host = '10.191.181.52', kh = knownHosts) => [
    host,
    '--identity',
    client.path,
    '--known-hosts',
    kh,
    '--api-password-env',
    'HPA_API_PW',
    '--timeout',
    '10',
  ];
  const env = { HPA_API_PW: API_PASSWORD };

  test('--nagios OK: one status line with performance data, exit 0', async () => {
    const r = await world.verify([...base(), '--nagios'], { env });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.equal(r.stdout.trimEnd().split('\n').length, 1, r.stdout);
    assert.match(r.stdout, /^HAPROXY-APPLIANCE OK - 10\.191\.181\.52: \d+ checks passed(, \d+ skipped)? \| /u);
    const perf = perfdata(r.stdout.trimEnd());
    assert.deepEqual([...perf.keys()], ['connect_ms', 'collect_ms', 'failed', 'warned', 'checks']);
    assert.match(perf.get('connect_ms')!, /^\d+ms;;;0$/u);
    assert.match(perf.get('collect_ms')!, /^\d+ms;;;0$/u);
    assert.equal(perf.get('failed'), '0;;0;0');
    assert.equal(perf.get('warned'), '0;0;;0');
  });

  test('--nagios UNKNOWN: a connection refused is exit 3, and so is a usage error (two hosts)', async () => {
    const r = await world.verify([...base('10.191.181.52:2222'), '--nagios'], { env });
    assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^HAPROXY-APPLIANCE UNKNOWN - 10\.191\.181\.52:2222: UNREACHABLE: .*connection refused \(nothing listens on port 2222\)\n/u);
    assert.doesNotMatch(r.stdout, /\|/u, 'no performance data: nothing was measured');
    const two = await world.verify([...base(), '10.191.181.53', '--nagios'], { env });
    assert.equal(two.code, 3);
    assert.equal(two.stdout, 'HAPROXY-APPLIANCE UNKNOWN - --nagios checks one appliance (one service in Nagios, Icinga or Checkmk); 2 hosts were given');
  });

  test('haproxy stopped: --nagios CRITICAL (exit 2) listing the failures; --wait reports the last result at the deadline (exit 1)', async () => {
    await app.stopHaproxy();
    try {
      const r = await world.verify([...base(), '--nagios'], { env });
      assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
      const [status, ...rest] = r.stdout.split('\n');
      assert.match(status!, /^HAPROXY-APPLIANCE CRITICAL - 10\.191\.181\.52: \d+ checks failed \(.+\), \d+ passed \| /u);
      assert.notEqual(perfdata(status!).get('failed'), '0;;0;0');
      assert.ok(
        rest.some((l) => /^FAIL service haproxy: /u.test(l)),
        r.stdout,
      );
      // One line per failed check (at most 20), as many as the performance data counts.
      const failed = Number(perfdata(status!).get('failed')!.split(';')[0]);
      assert.equal(rest.filter((l) => l.startsWith('FAIL ')).length, Math.min(failed, 20));

      const w = await world.verify([...base(), '--wait', '3', '--json'], { env });
      assert.equal(w.code, 1, `${w.stdout}${w.stderr}`);
      const json = JSON.parse(w.stdout) as Json;
      assert.ok((json.hosts[0]!.attempts ?? 0) >= 2, `tried again: ${json.hosts[0]!.attempts}`);
      assert.ok(json.hosts[0]!.checks.some((c) => c.id === 'service' && c.subject === 'haproxy' && c.status === 'fail'));
      // One progress line: the verdict did not change between attempts.
      assert.match(w.stderr, /^10\.191\.181\.52: FAIL: \d+ failed \(.*\); --wait: trying again every 2 s for up to \d s more$/u);
    } finally {
      await app.startHaproxy();
    }
  });

  test('--wait with sshd not up yet: it tries again, sshd starts, the same run ends green (exit 0)', async () => {
    await app.stopSshd();
    let started = false;
    try {
      const child = execa(
        'ip',
        [
          'netns',
          'exec',
          world.bed.nsName('gw'),
          process.execPath,
          '--import',
          'tsx',
          join(ROOT, 'src/bin.ts'),
          'verify',
          ...base(),
          '--wait',
          '120',
          '--json',
        ],
        {
          reject: false,
          timeout: 180_000,
          cwd: ROOT,
          stdin: 'ignore',
          env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: join(world.dir, 'home'), NO_COLOR: '1', ...env },
          extendEnv: false,
        },
      );
      // Once it has said it will try again (SSH refused), start sshd.
      let err = '';
      await new Promise<void>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('--wait: trying again')) resolve();
        });
        void child.then(() => resolve());
      });
      assert.match(err, /^10\.191\.181\.52: UNREACHABLE: .*connection refused.*; --wait: trying again every 2 s for up to \d+ s more\n/u);
      await app.startSshd();
      started = true;
      const r = await child;
      assert.equal(r.exitCode, 0, `${String(r.stdout)}${err}${String(r.stderr)}`);
      const json = JSON.parse(String(r.stdout)) as Json;
      assert.equal(json.hosts[0]!.error, undefined);
      assert.ok((json.hosts[0]!.attempts ?? 0) >= 2, `attempts: ${json.hosts[0]!.attempts}`);
    } finally {
      if (!started) await app.startSshd();
    }
  });

  test('--wait in a fleet: each host on its own (the green one done at once, the refused one tried until the deadline)', async () => {
    const r = await world.verify([...base(), '10.191.181.52:2222', '--wait', '3', '--json'], { env });
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
    const json = JSON.parse(r.stdout) as Json;
    assert.equal(json.hosts[0]!.error, undefined);
    assert.equal(json.hosts[0]!.attempts, 1, 'green at the first attempt');
    assert.equal(json.hosts[1]!.error?.kind, 'unreachable');
    assert.ok((json.hosts[1]!.attempts ?? 0) >= 2, `tried again: ${json.hosts[1]!.attempts}`);
    assert.match(r.stderr, /^10\.191\.181\.52:2222: UNREACHABLE: .*connection refused.*; --wait: trying again/mu);
  });

  test('--wait does not retry a refused host key: one attempt, exit 2', async () => {
    const other = join(world.dir, 'other_known_hosts');
    const wrong = await sshKeygen(join(world.dir, 'wrong_host_key'));
    const [type, key] = wrong.pub.split(/\s+/u);
    await writeFile(other, `10.191.181.52 ${type} ${key}\n`);
    const r = await world.verify([...base('10.191.181.52', other), '--wait', '60', '--json'], { env });
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
    const json = JSON.parse(r.stdout) as Json;
    assert.equal(json.hosts[0]!.error?.kind, 'hostkey');
    assert.equal(json.hosts[0]!.attempts, 1);
    assert.equal(r.stderr, '', 'no "trying again"');
  });
});
