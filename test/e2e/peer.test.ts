/**
 * The peer of bench/peer.bench.ts boots once: the Debian image with cloud-init instead of the
 * agent (scripts/test-image.sh peer-root), the seed's instance data as a NoCloud seed
 * (test/harness/peer-cloud-init.ts), on the same bed as the appliance's end-to-end test. Checks
 * that what the bench compares holds: cloud-init finished without error, the NICs carry the
 * seed's names by MAC, the routing is the agent's (rules, tables, AnyIP), haproxy.cfg is the
 * shared file byte for byte, and a client on the frontend network reaches the guest cluster's
 * backend through the VIP. Then everything is cleaned up.
 *
 * Root on Linux. The cloudinit base is built once (debootstrap, a few minutes) and cached; a
 * warm run takes under a minute.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { test } from 'node:test';
import { checkReadiness } from '../harness/image.js';
import { ruleLine, tableLines } from '../harness/ip-dump.js';
import { assertNothingLeft } from '../harness/leak-guard.js';
import { noCloudSeed, PeerBed, sharedConfig } from '../harness/peer-cloud-init.js';
import { SEED_NICS } from '../harness/seed-topology.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the peer test boots an image: it needs root on Linux (CI runs it as root)' : false;

test('cloud-init makes the same appliance from the seed: names, routing, haproxy.cfg, a VIP that answers', { skip, timeout: 15 * 60_000 }, async () => {
  const ready = await checkReadiness({ install: true });
  assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
  const work = await mkdtemp('/var/tmp/hpa-peer-test-');
  const app = new PeerBed();
  try {
    const shared = await sharedConfig(work);
    await app.prepareImage();
    await app.setSeed(noCloudSeed(shared.files));
    await app.wire();
    const boot = await app.boot({ timeoutMs: 180_000 });
    assert.equal(boot.systemState, 'running', `no unit failed: ${JSON.stringify(boot.failedUnits)}`);
    const ci = await app.cloudInitReport();
    assert.match(ci.status, /^status: done$/mu, ci.status);

    const links = await app.bed.ipJson<Array<{ ifname: string; address?: string }>>('appliance', ['link']);
    for (const role of ['management', 'workload', 'frontend'] as const)
      assert.equal(links.find((l) => l.address === SEED_NICS[role].mac)?.ifname, role, `the NIC with ${role}'s MAC is named ${role}`);

    const d = await app.bed.dump('appliance');
    const rules = d.rules.map(ruleLine);
    for (const r of ['1000: from 192.168.0.0/24 lookup 200', '2000: from 192.168.0.0/16 lookup 200', '2001: from 172.16.10.0/24 lookup 201'])
      assert.ok(rules.includes(r), `ip rule has "${r}": ${rules.join('; ')}`);
    assert.deepEqual(
      tableLines(d, '200').sort(),
      ['192.168.0.0/16 dev workload table 200 scope link src 192.168.1.2', 'default via 192.168.1.1 dev workload table 200'].sort(),
    );
    assert.deepEqual(
      tableLines(d, '201').sort(),
      ['172.16.10.0/24 dev frontend table 201 scope link src 172.16.10.2', 'default via 172.16.10.1 dev frontend table 201'].sort(),
    );
    assert.ok(tableLines(d, 'local').includes('local 192.168.0.0/24 dev lo table local scope host'), `AnyIP: ${tableLines(d, 'local').join('; ')}`);
    assert.deepEqual(
      tableLines(d, 'main').filter((l) => l.startsWith('default')),
      [`default via ${SEED_NICS.management.gw} dev management`],
      'one default route in main, via management',
    );

    assert.equal(await app.haproxyCfg(), shared.haproxyCfg, 'haproxy.cfg is the shared file byte for byte');
    const c = await app.connect('fclient', '192.168.0.3', 6443);
    assert.ok(c.ok, `fclient → 192.168.0.3:6443: ${JSON.stringify(c)}`);
    assert.equal(c.reply?.localAddress, '172.16.10.3', 'the guest cluster backend answered');
  } finally {
    const notes = await app.cleanup();
    await rm(work, { recursive: true, force: true });
    assert.deepEqual(
      notes.filter((n) => !n.startsWith('logs kept')),
      [],
      'cleanup had nothing to report',
    );
  }
  await assertNothingLeft({ bedIds: [app.bed.id] });
  assert.equal(existsSync(app.work), false, `${app.work} is removed`);
});
