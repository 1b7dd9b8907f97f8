/**
 * What the verifier takes from an appliance: at most MAX_COLLECT_BYTES (stdout and stderr of the
 * collection together), decoded once so a multibyte character split between SSH packets arrives
 * whole.
 *
 * Unit: the accumulator (`BoundedOutput`) with crafted Buffers — every split of multibyte
 * characters, the cap on both streams together, a flood of one-byte chunks.
 *
 * End to end (needs root; the bed of integration.test.ts): the real CLI against the real sshd of
 * an appliance in network namespaces whose state.json is (1) a sparse 2 GiB file and (2) a
 * symlink to /dev/zero (endless). The verifier runs with a 256 MB V8 heap: it must end with the
 * collect error naming the cap, exit 2, not crash; its peak RSS (/usr/bin/time) is printed. Then
 * a state.json carrying ~280 kB of `€` and emoji (so SSH packet boundaries fall inside
 * characters) comes back byte for byte in --json, and an appliance with a haproxy.cfg of 10,000
 * Data Plane API frontend/backend pairs is collected without reaching the cap.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateProperties } from '../../../src/config/validate.js';
import { BoundedOutput, MAX_COLLECT_BYTES, formatBytes } from '../../../src/verify/ssh.js';
import { canRunNetworkBeds } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_MACS, SEED_PROPERTIES } from '../../harness/ovf.js';
import { World, haproxyCfg, makePki, seedHaproxySections, sshKeygen, type Appliance, type KeyPair } from '../../harness/verify-bed.js';

describe('BoundedOutput: bytes in, decoded once', () => {
  const text = 'état €5 😀 日本語 ok\n';
  const bytes = Buffer.from(text, 'utf8');

  test('a multibyte character split at every byte offset (and into single bytes) arrives whole', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      const out = new BoundedOutput(1024);
      assert.equal(out.add('stdout', bytes.subarray(0, cut)), true);
      assert.equal(out.add('stdout', bytes.subarray(cut)), true);
      assert.equal(out.stdout(), text, `cut at byte ${cut}`);
    }
    const out = new BoundedOutput(1024);
    for (const b of bytes) out.add('stderr', Buffer.from([b]));
    assert.equal(out.stderr(), text);
    assert.equal(out.stdout(), '');
    // What the old code did with the same chunks: each decoded on its own.
    const euro = Buffer.from('€');
    assert.notEqual(euro.subarray(0, 1).toString('utf8') + euro.subarray(1).toString('utf8'), '€');
  });

  test('past many blocks (each decoded as it fills): the text is the whole decoded at once, invalid bytes included', () => {
    // ~1.5 MB of 1- to 4-byte characters with stray invalid bytes, in chunks of every size from 1
    // byte to 300 kB, so block boundaries fall inside characters and inside invalid sequences.
    const unit = Buffer.concat([Buffer.from('a€😀日', 'utf8'), Buffer.from([0xe2, 0x41, 0x80, 0xf0, 0x9f]), Buffer.from('ß\n', 'utf8')]);
    const all = Buffer.concat(Array.from({ length: 80_000 }, () => unit));
    for (const sizes of [[1, 7, 4093, 65_536, 300_000], [3], [262_143, 262_145], [1_000_001]]) {
      const out = new BoundedOutput(MAX_COLLECT_BYTES);
      for (let at = 0, i = 0; at < all.length; i++) {
        const n = sizes[i % sizes.length]!;
        out.add('stdout', all.subarray(at, at + n));
        at += n;
      }
      assert.equal(out.stdout(), all.toString('utf8'), `chunks of ${sizes.join(', ')} bytes`);
      assert.equal(out.stdout(), out.stdout(), 'the same text when asked again');
    }
  });

  test("a chunk is copied: reusing the caller's buffer afterwards changes nothing", () => {
    const out = new BoundedOutput(1024);
    const chunk = Buffer.from('abc');
    out.add('stdout', chunk);
    chunk.fill(0x78);
    assert.equal(out.stdout(), 'abc');
  });

  test('the cap counts stdout and stderr together: the limit itself is kept, one byte more is refused and drops all', () => {
    const out = new BoundedOutput(10);
    assert.equal(out.add('stdout', Buffer.from('12345')), true);
    assert.equal(out.add('stderr', Buffer.from('6789')), true);
    assert.equal(out.add('stdout', Buffer.from('0')), true);
    assert.equal(out.received, 10);
    assert.equal(out.overflowed, false);
    assert.equal(out.stdout(), '123450');
    assert.equal(out.stderr(), '6789');
    assert.equal(out.add('stderr', Buffer.from('x')), false);
    assert.equal(out.overflowed, true);
    assert.equal(out.add('stdout', Buffer.from('y')), false, 'nothing more is taken');
    assert.equal(out.received, 12);
    assert.equal(out.stdout(), '', 'what was held is dropped');
    assert.equal(out.stderr(), '');
  });

  test('a flood of one-byte chunks and chunks larger than a block are kept exactly', () => {
    const out = new BoundedOutput(MAX_COLLECT_BYTES);
    for (let i = 0; i < 300_000; i++) out.add('stdout', Buffer.from([0x61 + (i % 26)]));
    const big = Buffer.alloc(5 * 1024 * 1024, 0x7a);
    out.add('stdout', big);
    const s = out.stdout();
    assert.equal(s.length, 300_000 + big.length);
    assert.equal(s.slice(0, 27), 'abcdefghijklmnopqrstuvwxyza');
    assert.equal(s.charCodeAt(299_999), 0x61 + (299_999 % 26));
    assert.equal(s.slice(300_000), big.toString('latin1'));
  });

  test('the default cap is 64 MiB, and is said so', () => {
    assert.equal(MAX_COLLECT_BYTES, 64 * 1024 * 1024);
    assert.equal(formatBytes(MAX_COLLECT_BYTES), '64 MiB');
    assert.equal(formatBytes(1536 * 1024), '1.5 MiB');
    assert.equal(formatBytes(12), '12 bytes');
  });
});

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

const API_PASSWORD = 'vmware';
const STATE = '/var/lib/haproxy-appliance/state.json';
const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;

interface Json {
  exitCode: number;
  hosts: { error?: { kind: string; message: string; remedy?: string }; checks: { id: string; subject?: string; status: string; message: string }[] }[];
}

/** 10,000 frontend/backend pairs as the Data Plane API writes them for LoadBalancer services. */
function tenThousandPairs(): string {
  const domain = 'domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e';
  const parts: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const n = `${domain}-ns-${String(i).padStart(5, '0')}-service-${i}-lb-svc`;
    const vip = `192.168.0.${(i % 250) + 1}`;
    const port = 10_000 + Math.floor(i / 250);
    parts.push(
      `frontend ${n}\n  mode tcp\n  bind ${vip}:${port} name ${n}-${vip}:tcp\n  log-tag ${n}\n  option tcplog\n  default_backend ${n}-tcp\n\n` +
        `backend ${n}-tcp\n  mode tcp\n  balance roundrobin\n` +
        [3, 4, 5].map((h) => `  server ${n}-172.16.10.${h}:${port} 172.16.10.${h}:${port} weight 100\n`).join('') +
        '\n',
    );
  }
  return parts.join('');
}

describe('verify against an appliance that sends too much, or splits characters', { skip, timeout: 600_000 }, () => {
  let world: World;
  let app: Appliance;
  let client: KeyPair;
  let knownHosts: string;
  let origState: string;
  const bedIds: string[] = [];

  before(async () => {
    world = await World.create();
    bedIds.push(world.bed.id);
    const pki = await makePki(join(world.dir, 'pki'), ['IP:10.191.181.52', 'IP:192.168.1.2', 'IP:172.16.10.2', 'DNS:haproxy.local']);
    const hostKey = await sshKeygen(join(world.dir, 'host_key'));
    client = await sshKeygen(join(world.dir, 'client_key'));
    app = await world.addAppliance({ name: 'app', config, macs: SEED_MACS, network: 'ip', pki, hostKey, authorizedKeys: [client.pub] });
    knownHosts = join(world.dir, 'known_hosts');
    await writeFile(knownHosts, `${app.knownHostsLine()}\n`);
    origState = (await app.exec(['cat', STATE])).stdout;
  });

  after(async () => {
    await world?.cleanup();
    await assertNothingLeft({ bedIds });
  });

  const base = () => ['10.191.181.52', '--identity', client.path, '--known-hosts', knownHosts, '--api-password-env', 'HPA_API_PW', '--json'];
  const sh = async (script: string, ...args: string[]) => {
    const r = await app.exec(['sh', '-c', script, 'sh', ...args]);
    assert.equal(r.code, 0, `${script}: ${r.stderr}`);
    return r.stdout;
  };
  const restoreState = async () => {
    const r = await app.exec(['sh', '-c', `rm -f ${STATE} && cat > ${STATE}`], origState);
    assert.equal(r.code, 0, r.stderr);
  };

  /** The CLI under /usr/bin/time, with a 256 MB V8 heap: its JSON, exit code and peak RSS. */
  async function verifyMeasured(timeout = '60') {
    const r = await world.verify([...base(), '--timeout', timeout], {
      env: { HPA_API_PW: API_PASSWORD, NODE_OPTIONS: '--max-old-space-size=256' },
      wrap: ['/usr/bin/time', '-f', 'hpa-maxrss-kb=%M'],
      timeoutMs: 300_000,
    });
    const rss = /hpa-maxrss-kb=(\d+)/u.exec(r.stderr);
    let json: Json | undefined;
    try {
      json = JSON.parse(r.stdout) as Json;
    } catch {
      /* asserted below with the output */
    }
    return { ...r, json, rssMb: rss ? Number(rss[1]) / 1024 : undefined };
  }

  for (const [what, make, section] of [
    ['a sparse 2 GiB state.json', `rm -f ${STATE} && truncate -s 2G ${STATE}`, `state: ${STATE}`],
    ['an endless state.json (a symlink to /dev/zero)', `rm -f ${STATE} && ln -s /dev/zero ${STATE}`, `state: ${STATE}`],
    // After the certificates: the early API probe is under way when the cap is reached.
    ['a sparse 2 GiB /etc/resolv.conf', 'truncate -s 2G /etc/resolv.conf', 'resolv.conf'],
  ] as const) {
    test(`${what}: the verifier stops at ${formatBytes(MAX_COLLECT_BYTES)} with a collect error, exit 2, no crash`, async () => {
      const resolv = join(app.dir, 'resolv.conf');
      const origResolv = await readFile(resolv, 'utf8');
      await sh(make);
      try {
        const r = await verifyMeasured();
        console.log(
          `# ${what}: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s, peak RSS ${r.rssMb?.toFixed(0)} MB (heap limit 256 MB): ${r.json?.hosts[0]!.error?.message ?? r.stderr.slice(-300)}`,
        );
        assert.ok(r.json, `no JSON (exit ${r.code}; an out-of-memory crash?): ${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-4000)}`);
        assert.equal(r.code, 2, r.stdout.slice(0, 2000));
        assert.equal(r.json.exitCode, 2);
        const err = r.json.hosts[0]!.error;
        assert.ok(err, `no host error: ${r.stdout.slice(0, 2000)}`);
        assert.equal(err.kind, 'collect');
        assert.equal(
          err.message,
          `the appliance sent more than 64 MiB to the verifier (stdout and stderr of the collection together; it was sending section ${section}); stopped reading and closed the connection`,
        );
        assert.match(err.remedy!, /check the size of \/var\/lib\/haproxy-appliance\/state\.json, \/etc\/haproxy\/haproxy\.cfg/u);
        assert.doesNotMatch(r.stderr, /heap out of memory|Invalid string length/u);
      } finally {
        await restoreState();
        await writeFile(resolv, origResolv);
      }
      const again = await verifyMeasured();
      assert.equal(again.json?.hosts[0]!.error, undefined, 'restored');
    });
  }

  test('multibyte characters across SSH packet boundaries arrive intact (state.json, ~280 kB of € and emoji)', async () => {
    const state = JSON.parse(origState) as { version: string };
    // 7 bytes a unit (3 + 4): whatever size the packets have, their boundaries fall inside characters.
    state.version = `0.1.0-${'€😀'.repeat(40_000)}-é`;
    const r0 = await app.exec(['sh', '-c', `cat > ${STATE}`], JSON.stringify(state));
    assert.equal(r0.code, 0, r0.stderr);
    try {
      const r = await verifyMeasured();
      assert.ok(r.json, r.stdout.slice(0, 2000));
      const host = r.json.hosts[0]!;
      assert.equal(host.error, undefined, JSON.stringify(host.error));
      const check = host.checks.find((c) => c.id === 'state');
      assert.ok(check);
      assert.ok(!check.message.includes('\ufffd'), 'a replacement character: a character was split and decoded in halves');
      assert.ok(check.message.includes(`(agent ${state.version}, applied `), 'the version as written');
      const failed = host.checks.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.subject ?? ''}: ${c.message.slice(0, 120)}`);
      console.log(
        `# multibyte: ${Buffer.byteLength(state.version)} bytes of version, exit ${r.code}, peak RSS ${r.rssMb?.toFixed(0)} MB; failing: ${failed.join('; ')}`,
      );
    } finally {
      await restoreState();
    }
  });

  test('10,000 Data Plane API frontend/backend pairs in haproxy.cfg are collected (the cap leaves them room)', async () => {
    const orig = await app.readHaproxyCfg();
    const cfg = haproxyCfg(config.loadbalance.haproxyUser, config.loadbalance.haproxyPassword, `${seedHaproxySections()}\n${tenThousandPairs()}`);
    await app.writeHaproxyCfg(cfg);
    try {
      const r = await verifyMeasured('120');
      assert.ok(r.json, `${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-2000)}`);
      const host = r.json.hosts[0]!;
      assert.equal(host.error, undefined, JSON.stringify(host.error));
      // Collected: haproxy -c ran on it (haproxy has not loaded it) and passed, and every
      // frontend's bind was judged (haproxy was not reloaded, so the new ones do not listen).
      const verdict = host.checks.find((c) => c.id === 'haproxy.config');
      assert.equal(verdict?.status, 'pass');
      assert.match(verdict.message, /^haproxy -c -f /u);
      const binds = host.checks.filter((c) => c.id === 'vip.bind');
      assert.ok(binds.length >= 10_000, `${binds.length} vip.bind checks`);
      console.log(
        `# 10,000 pairs: haproxy.cfg ${(Buffer.byteLength(cfg) / 1e6).toFixed(1)} MB (cap ${formatBytes(MAX_COLLECT_BYTES)}), exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s, peak RSS ${r.rssMb?.toFixed(0)} MB`,
      );
    } finally {
      await app.writeHaproxyCfg(orig);
    }
  });
});
