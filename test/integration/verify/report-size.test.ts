/**
 * The report at many VIPs, through the real CLI against an appliance in network namespaces
 * (test/harness/verify-bed.ts: real sshd and haproxy): the seed's 4 binds and 40 Data Plane API pairs, 38 of them
 * listening and 2 added to haproxy.cfg after haproxy started (so nothing listens on them). The
 * text report folds vip.bind into one line naming the two; `--verbose` shows every one of the
 * 44 binds on its own line; `--json` holds every result. Needs root.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateProperties } from '../../../src/config/validate.js';
import { canRunNetworkBeds } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_MACS, SEED_PROPERTIES } from '../../harness/ovf.js';
import { World, haproxyCfg, makePki, SEED_SANS, seedHaproxySections, sshKeygen, type Appliance } from '../../harness/verify-bed.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;
const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;

/** Pairs as the Data Plane API writes them, one VIP each in 192.168.0.0/24, from 192.168.0.`first`. */
function pairs(first: number, n: number): string {
  let out = '';
  for (let i = first; i < first + n; i++) {
    const name = `domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e-ns-service-${i}-lb-svc`;
    out += `\nfrontend ${name}\n  mode tcp\n  bind 192.168.0.${i}:443 name ${name}-192.168.0.${i}:https\n  default_backend ${name}-https\n`;
    out += `\nbackend ${name}-https\n  mode tcp\n  server ${name}-172.16.10.3:443 172.16.10.3:443 weight 100\n`;
  }
  return out;
}

interface Json {
  exitCode: number;
  hosts: { checks: { id: string; subject?: string; status: string; message: string }[] }[];
}

describe('verify --verbose and --json keep every VIP result; the text report folds them', { skip, timeout: 300_000 }, () => {
  let world: World;
  let app: Appliance;
  let args: string[];
  const bedIds: string[] = [];
  const cfg = (extra: string) =>
    haproxyCfg(config.loadbalance.haproxyUser, config.loadbalance.haproxyPassword, `${seedHaproxySections()}${pairs(10, 38)}${extra}`);

  before(async () => {
    world = await World.create();
    bedIds.push(world.bed.id);
    const pki = await makePki(join(world.dir, 'pki'), SEED_SANS);
    const hostKey = await sshKeygen(join(world.dir, 'host_key'));
    const client = await sshKeygen(join(world.dir, 'client_key'));
    app = await world.addAppliance({ name: 'app', config, macs: SEED_MACS, network: 'ip', pki, hostKey, authorizedKeys: [client.pub], haproxyCfg: cfg('') });
    const knownHosts = join(world.dir, 'known_hosts');
    await writeFile(knownHosts, `${app.knownHostsLine()}\n`);
    // haproxy has bound the 38; two more frontends come after it started, as the API adds them before its reload.
    const r = await app.exec(['sh', '-c', 'ss -Htln | grep -c "192.168.0.[0-9]*:443 "']);
    assert.ok(Number(r.stdout.trim()) >= 38, `listeners: ${r.stdout}`);
    await app.writeHaproxyCfg(cfg(pairs(60, 2)));
    args = ['10.191.181.52', '--identity', client.path, '--known-hosts', knownHosts, '--timeout', '60'];
  });

  after(async () => {
    await world?.cleanup();
    await assertNothingLeft({ bedIds });
  });

  const missing = ['192.168.0.60:443', '192.168.0.61:443'];

  test('text: one vip.bind line naming the two that do not listen, then each in full', async () => {
    const r = await world.verify(args);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /\n {2}FAIL {2}vip\.bind +42 of 44 VIP listeners listening; failed: 192\.168\.0\.60:443, 192\.168\.0\.61:443\n/u);
    for (const ep of missing)
      assert.match(
        r.stdout,
        new RegExp(`\\n {2}FAIL {2}vip\\.bind ${ep.replace(/\./gu, '\\.')} +VIP ${ep.replace(/\./gu, '\\.')} is in haproxy\\.cfg but nothing listens: `, 'u'),
      );
    assert.doesNotMatch(r.stdout, /PASS {2}vip\.bind 192/u);
  });

  test('--verbose: each of the 44 binds on its own line', async () => {
    const r = await world.verify([...args, '--verbose']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter((l) => /^ {2}(PASS|FAIL|WARN|SKIP) {2}vip\.bind 192\.168\.0\.\d+:\d+ /u.test(l));
    assert.equal(lines.length, 44, r.stdout);
    assert.equal(lines.filter((l) => l.startsWith('  PASS')).length, 42);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('  FAIL')).map((l) => l.split(/\s+/u)[3]),
      missing,
    );
    assert.doesNotMatch(r.stdout, /VIP listeners/u);
  });

  test('--json: every result, one per bind', async () => {
    const r = await world.verify([...args, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const json = JSON.parse(r.stdout) as Json;
    const binds = json.hosts[0]!.checks.filter((c) => c.id === 'vip.bind');
    assert.equal(binds.length, 44);
    assert.deepEqual(
      binds.filter((c) => c.status === 'fail').map((c) => c.subject),
      missing,
    );
    assert.equal(binds.filter((c) => c.status === 'pass').length, 42);
  });
});
