/**
 * `haproxy-appliance verify` end to end against a seed appliance in network namespaces: the real
 * sshd (root login with a test key, and a password from the appliance's private /etc/shadow), the
 * real haproxy 2.6 with the seed's frontends on VIPs of an AnyIP range, the real
 * systemd-networkd on the units the agent renders, and a stand-in for the Data Plane API (the
 * real binary is not available here: see docs/verify.md). The CLI runs in the gateway namespace,
 * as an admin's workstation on the management network would.
 *
 * All checks pass; then, one at a time (each undone afterwards): haproxy stopped, a route
 * removed, a VIP outside the ranges, the API on the wrong port, a changed host key, an unknown
 * host (refused, then --accept-new), a wrong password, an unreachable host — each reported by
 * the right check with the right exit code. Needs root; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { validateProperties } from '../../../src/config/validate.js';
import { CHECKS } from '../../../src/verify/checks/index.js';
import { parseKnownHosts, verifyHostKey } from '../../../src/verify/known-hosts.js';
import { canRunNetworkBeds } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_ENV_FILE, SEED_MACS, SEED_PROPERTIES } from '../../harness/ovf.js';
import { World, makePki, SEED_SANS, sha512crypt, sshKeygen, type Appliance, type KeyPair } from '../../harness/verify-bed.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

const ROOT_PASSWORD = 'vmware-root-test';
const API_PASSWORD = 'vmware';
const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;

interface Json {
  ok: boolean;
  exitCode: number;
  hosts: {
    name: string;
    error?: { kind: string; message: string };
    recordedHostKey?: string;
    checks: { id: string; subject?: string; status: string; message: string; remedy?: string }[];
  }[];
}

describe('verify against a seed appliance in network namespaces', { skip, timeout: 300_000 }, () => {
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
    app = await world.addAppliance({
      name: 'app',
      config,
      macs: SEED_MACS,
      network: 'networkd',
      pki,
      hostKey,
      authorizedKeys: [client.pub],
      rootPasswordHash: await sha512crypt(ROOT_PASSWORD),
    });
    // known_hosts hashed by the real ssh-keygen -H, as Debian's HashKnownHosts=yes writes it.
    knownHosts = join(world.dir, 'known_hosts');
    await writeFile(knownHosts, `${app.knownHostsLine()}\n`);
    await execa('ssh-keygen', ['-H', '-f', knownHosts], { stdin: 'ignore' });
    assert.match(await readFile(knownHosts, 'utf8'), /^\|1\|/u);
  });

  after(async () => {
    await world?.cleanup();
    await assertNothingLeft({ bedIds });
  });

  const base = () => ['10.191.181.52', '--identity', client.path, '--known-hosts', knownHosts, '--api-password-env', 'HPA_API_PW', '--timeout', '10'];
  const env = { HPA_API_PW: API_PASSWORD };
  async function verifyJson(args: string[], extraEnv: Record<string, string> = {}) {
    const r = await world.verify([...args, '--json'], { env: { ...env, ...extraEnv } });
    let json: Json;
    try {
      json = JSON.parse(r.stdout) as Json;
    } catch {
      throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
    return { ...r, json, host: json.hosts[0]! };
  }
  const check = (h: Json['hosts'][number], id: string, subject?: string) => {
    const c = h.checks.find((x) => x.id === id && (subject === undefined || x.subject === subject));
    assert.ok(c, `no ${id} ${subject ?? ''} in ${h.checks.map((x) => `${x.id} ${x.subject ?? ''}`).join(', ')}`);
    return c;
  };
  const failing = (h: Json['hosts'][number]) => h.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}${c.subject ? ` ${c.subject}` : ''}`);

  test('everything passes: exit 0, text report, JSON and JUnit', async () => {
    const junit = join(world.dir, 'junit.xml');
    const text = await world.verify([...base(), '--junit', junit], { env });
    assert.equal(text.code, 0, `${text.stdout}\n${text.stderr}`);
    assert.match(text.stdout, /PASS {2}dataplane\.api {2,}GET \/v2\/info as wcp: Data Plane API v2\.1\.0 standin/u);
    assert.doesNotMatch(text.stdout, /^ {2}(FAIL|WARN|SKIP) /mu);
    assert.doesNotMatch(text.stdout, /\u001b\[/u, 'NO_COLOR is respected');
    const xml = await readFile(junit, 'utf8');
    assert.match(xml, /<testsuites name="haproxy-appliance verify" tests="\d+" failures="0" errors="0" skipped="0"/u);
    const r = await verifyJson(base());
    assert.equal(r.code, 0);
    assert.deepEqual(
      r.host.checks.filter((c) => c.status !== 'pass'),
      [],
    );
    for (const id of [
      'dataplane.listen',
      'dataplane.tls',
      'dataplane.api',
      'ssh.listen',
      'route.default',
      'anyip',
      'vip.bind',
      'haproxy.config',
      'hostname',
      'dns',
    ])
      check(r.host, id);
    // The registry runs every check on the live appliance (the seed has no additional workload
    // networks, static routes or search domains: test/e2e/static-routes.test.ts has the latter two).
    assert.deepEqual(
      CHECKS.map((c) => c.id).filter((id) => !r.host.checks.some((x) => x.id === id)),
      ['route.additional', 'route.static', 'dns.search'],
    );
    assert.match(check(r.host, 'service', 'systemd-networkd').message, /running/u);
    assert.ok(!`${text.stdout}${text.stderr}${r.stdout}${r.stderr}${xml}`.includes(API_PASSWORD), 'the API password never appears');
  });

  test('against --expect with the seed OVF environment (and its API credentials)', async () => {
    const r = await world.verify(['10.191.181.52', '--identity', client.path, '--known-hosts', knownHosts, '--expect', SEED_ENV_FILE, '--json']);
    const json = JSON.parse(r.stdout) as Json;
    assert.equal(r.code, 0, r.stdout);
    assert.match(check(json.hosts[0]!, 'state').message, /^expected configuration from --expect .*ovf-env\.xml/u);
    assert.equal(check(json.hosts[0]!, 'dataplane.api').status, 'pass');
  });

  test('haproxy stopped: exit 1, service haproxy and every VIP fail, naming the cause', async () => {
    await app.stopHaproxy();
    try {
      const r = await verifyJson(base());
      assert.equal(r.code, 1);
      assert.equal(check(r.host, 'service', 'haproxy').status, 'fail');
      const bind = check(r.host, 'vip.bind', '192.168.0.1:6443');
      assert.equal(bind.status, 'fail');
      assert.match(bind.message, /^VIP 192\.168\.0\.1:6443 is in haproxy\.cfg but nothing listens: haproxy is not running/u);
      assert.equal(check(r.host, 'haproxy.config').status, 'pass');
    } finally {
      await app.startHaproxy();
    }
  });

  test('a route removed: the default route, then the AnyIP route', async () => {
    await app.ip(['route', 'del', 'default', 'via', '10.191.191.254', 'dev', 'management']);
    try {
      const r = await verifyJson(base());
      assert.equal(r.code, 1);
      assert.deepEqual(failing(r.host), ['route.default']);
      assert.equal(check(r.host, 'route.default').message, 'no default via 10.191.191.254 dev management: the main table has no default route');
    } finally {
      await app.ip(['route', 'add', 'default', 'via', '10.191.191.254', 'dev', 'management', 'proto', 'static']);
    }
    await app.ip(['route', 'del', 'local', '192.168.0.0/24', 'dev', 'lo', 'table', 'local']);
    try {
      const r = await verifyJson(base());
      assert.equal(r.code, 1);
      assert.deepEqual(failing(r.host), ['anyip 192.168.0.0/24']);
      assert.match(check(r.host, 'anyip').message, /^no AnyIP route for 192\.168\.0\.0\/24/u);
    } finally {
      await app.ip(['route', 'add', 'local', '192.168.0.0/24', 'dev', 'lo', 'table', 'local', 'proto', 'static']);
    }
  });

  test('haproxy.cfg: not checked again while the running haproxy has loaded it; haproxy -c once it changed; a broken file fails', async () => {
    // A fresh master and workers, then past the 2 s margin: the workers loaded the file as it is.
    await app.stopHaproxy();
    await app.startHaproxy();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const loaded = await verifyJson(base());
    assert.equal(loaded.code, 0, loaded.stdout);
    assert.match(
      check(loaded.host, 'haproxy.config').message,
      /: valid \(haproxy [^)]+\): the running haproxy loaded it as it is \(worker \d+ started .*so haproxy -c was not rerun$/u,
    );
    // The same text written again: a change haproxy has not loaded, so haproxy -c runs (beside the rest of the script).
    const cfg = await app.readHaproxyCfg();
    await app.writeHaproxyCfg(cfg);
    const changed = await verifyJson(base());
    assert.equal(changed.code, 0, changed.stdout);
    assert.match(check(changed.host, 'haproxy.config').message, /^haproxy -c -f \/etc\/haproxy\/haproxy\.cfg: valid/u);
    // haproxy -c's own process is not taken for the service's.
    assert.equal(check(changed.host, 'service', 'haproxy').status, 'pass');
    await app.writeHaproxyCfg(`${cfg}\nfrontend broken\n  bind 192.168.0.9:99\n  no-such-keyword here\n`);
    try {
      const broken = await verifyJson(base());
      assert.equal(broken.code, 1);
      const c = check(broken.host, 'haproxy.config');
      assert.equal(c.status, 'fail');
      assert.match(c.message, /^haproxy -c -f \/etc\/haproxy\/haproxy\.cfg fails \(exit 1\).*no-such-keyword/u);
      assert.match(check(broken.host, 'vip.bind', '192.168.0.9:99').message, /haproxy\.cfg does not pass haproxy -c/u);
    } finally {
      await app.writeHaproxyCfg(cfg);
    }
  });

  test('a VIP outside the ranges (added to haproxy.cfg, as the Data Plane API would)', async () => {
    const cfg = await app.readHaproxyCfg();
    await app.writeHaproxyCfg(
      `${cfg}\nfrontend stray-guest-cluster\n  mode tcp\n  bind 10.99.0.1:6443 name stray\n  default_backend stray\n\nbackend stray\n  mode tcp\n  server s1 172.16.10.9:6443\n`,
    );
    try {
      const r = await verifyJson(base());
      assert.equal(r.code, 1);
      assert.deepEqual(failing(r.host), ['vip.bind 10.99.0.1:6443']);
      const bind = check(r.host, 'vip.bind', '10.99.0.1:6443');
      assert.match(
        bind.message,
        /^VIP 10\.99\.0\.1:6443 is in haproxy\.cfg but nothing listens: no AnyIP route covers 10\.99\.0\.1 \(service ranges: 192\.168\.0\.0\/24\); 10\.99\.0\.1 is outside the service ranges/u,
      );
      assert.match(bind.message, /frontend stray-guest-cluster, haproxy\.cfg line \d+/u);
      assert.match(bind.remedy!, /192\.168\.0\.0\/24/u);
    } finally {
      await app.writeHaproxyCfg(cfg);
    }
  });

  test('the API on the wrong port: dataplane.listen fails and says where it listens', async () => {
    await app.stopDataplane();
    await app.startDataplane(5557);
    try {
      const r = await verifyJson(base());
      assert.equal(r.code, 1);
      assert.deepEqual(failing(r.host), ['dataplane.listen']);
      assert.match(
        check(r.host, 'dataplane.listen').message,
        /^dataplaneapi listens on 10\.191\.181\.52:5557, not on 10\.191\.181\.52:5556 \(loadbalance\.dataplane_port 5556\); it runs with --tls-host=10\.191\.181\.52 --tls-port=5557 --scheme=https$/u,
      );
      assert.equal(check(r.host, 'dataplane.tls').status, 'skip');
    } finally {
      await app.stopDataplane();
      await app.startDataplane();
    }
  });

  test('wrong API credentials: dataplane.api fails with HTTP 401', async () => {
    const r = await verifyJson(base(), { HPA_API_PW: 'not-the-password' });
    assert.equal(r.code, 1);
    assert.deepEqual(failing(r.host), ['dataplane.api']);
    assert.match(check(r.host, 'dataplane.api').message, /refused the credentials of wcp \(HTTP 401\)/u);
    assert.ok(!r.stdout.includes('not-the-password'));
  });

  test('a changed host key: refused with both fingerprints, exit 2', async () => {
    const other = await sshKeygen(join(world.dir, 'other_host_key'));
    const file = join(world.dir, 'known_hosts_changed');
    await writeFile(file, `10.191.181.52 ${other.pub.split(' ').slice(0, 2).join(' ')}\n`);
    const r = await world.verify(['10.191.181.52', '--identity', client.path, '--known-hosts', file], { env });
    assert.equal(r.code, 2, r.stdout);
    const fp = async (p: string) => (await execa('ssh-keygen', ['-lf', p], { stdin: 'ignore' })).stdout.split(' ')[1]!;
    assert.match(r.stdout, /HOST KEY REFUSED/u);
    assert.match(r.stdout, /the host key of 10\.191\.181\.52 has CHANGED/u);
    assert.ok(r.stdout.includes(await fp(app.spec.hostKey.path + '.pub')), 'the presented fingerprint');
    assert.ok(r.stdout.includes(await fp(other.path + '.pub')), 'the known fingerprint');
    // --accept-new never overrides a changed key.
    const again = await world.verify(['10.191.181.52', '--identity', client.path, '--known-hosts', file, '--accept-new'], { env });
    assert.equal(again.code, 2);
  });

  test('an unknown host: refused, then recorded with --accept-new, then known', async () => {
    const file = join(world.dir, 'known_hosts_empty');
    await writeFile(file, '');
    const args = ['10.191.181.52', '--identity', client.path, '--known-hosts', file, '--api-password-env', 'HPA_API_PW', '--json'];
    let r = await world.verify(args, { env });
    assert.equal(r.code, 2);
    let json = JSON.parse(r.stdout) as Json;
    assert.equal(json.hosts[0]!.error!.kind, 'hostkey');
    assert.match(json.hosts[0]!.error!.message, /^10\.191\.181\.52 is not in known_hosts \(it presented ssh-ed25519 SHA256:/u);
    r = await world.verify([...args, '--accept-new'], { env });
    assert.equal(r.code, 0, r.stdout);
    json = JSON.parse(r.stdout) as Json;
    assert.match(json.hosts[0]!.recordedHostKey!, /^ssh-ed25519 SHA256:/u);
    const entries = parseKnownHosts(await readFile(file, 'utf8'), file);
    const blob = Buffer.from(app.spec.hostKey.pub.split(' ')[1]!, 'base64');
    assert.equal(verifyHostKey(entries, '10.191.181.52', 22, blob).status, 'known');
    // The real ssh-keygen finds the recorded (hashed) entry too.
    const found = await execa('ssh-keygen', ['-F', '10.191.181.52', '-f', file], { stdin: 'ignore', reject: false });
    assert.equal(found.exitCode, 0);
    r = await world.verify(args, { env });
    assert.equal(r.code, 0);
  });

  test('password login: the right one works, a wrong one is an authentication failure (exit 2), never printed', async () => {
    const args = ['root@10.191.181.52', '--password-env', 'HPA_SSH_PW', '--known-hosts', knownHosts, '--timeout', '10'];
    const ok = await world.verify(args, { env: { HPA_SSH_PW: ROOT_PASSWORD } });
    assert.equal(ok.code, 0, ok.stdout);
    const bad = await world.verify([...args, '--junit', join(world.dir, 'junit-bad.xml')], { env: { HPA_SSH_PW: 'wrong-password-123' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /AUTHENTICATION FAILED\n {2}root@10\.191\.181\.52:22: authentication failed \(tried password\)/u);
    const xml = await readFile(join(world.dir, 'junit-bad.xml'), 'utf8');
    assert.match(xml, /<error type="auth"/u);
    for (const text of [ok.stdout, ok.stderr, bad.stdout, bad.stderr, xml]) {
      assert.ok(!text.includes(ROOT_PASSWORD) && !text.includes('wrong-password-123'), 'a password was printed');
    }
    const unset = await world.verify(args, { env: {} });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /--password-env: environment variable HPA_SSH_PW is not set/u);
  });

  test('a hostile appliance: escape sequences in its hostname and state.json reach no terminal raw, forge no line', async () => {
    const STATE = '/var/lib/haproxy-appliance/state.json';
    const origState = (await app.exec(['cat', STATE])).stdout;
    const origHost = (await app.exec(['cat', '/proc/sys/kernel/hostname'])).stdout.trim();
    const state = JSON.parse(origState) as { version: string; appliedAt: string };
    state.version = '0.1.0\u001b]0;owned-by-state\u0007\r\n  PASS  forged.by.state';
    state.appliedAt = '2026\u009b2J\u202eLIAF\u001b[1A\u001b[2K\bX';
    // The kernel takes any bytes but NUL and newline (64 at most): an OSC title, erase line, CR, a C1 CSI.
    const hostname = '\u001b]0;pwn\u0007\u001b[2K\rPASS  forged\u009b';
    const write = async (argv: string[], input?: string) => {
      const r = await app.exec(argv, input);
      assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    };
    await write(['sh', '-c', `cat > ${STATE}`], JSON.stringify(state));
    await write(['sh', '-c', 'printf "%s" "$1" > /proc/sys/kernel/hostname', 'sh', hostname]);
    try {
      const inv = join(world.dir, 'hostile-inventory.yml');
      await writeFile(
        inv,
        'all:\n  vars:\n    ansible_user: root\n  hosts:\n    "lb\\u001bc\\u009b2J\\u0007":\n      ansible_host: 10.191.181.52\n    plain:\n      ansible_host: 10.191.181.52\n      ansible_port: 22\n',
      );
      const runs = {
        one: await world.verify(base(), { env }),
        fleet: await world.verify(['--inventory', inv, ...base().slice(1)], { env }),
        json: await world.verify([...base(), '--json'], { env }),
      };
      for (const [what, r] of Object.entries(runs)) {
        assert.equal(r.code, 1, `${what}: ${r.stdout}\n${r.stderr}`);
        const out = `${r.stdout}${r.stderr}`;
        const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u.exec(out);
        assert.equal(raw, null, `${what}: a raw control character U+${raw?.[0].charCodeAt(0).toString(16)} in ${JSON.stringify(out)}`);
        assert.doesNotMatch(out, /^\s*PASS\s+forged/mu, `${what}: a forged line`);
      }
      // The hostile text was collected, and shown escaped, on the lines the report made.
      assert.match(
        runs.one.stdout,
        /\n {2}PASS {2}state +expected configuration from \/var\/lib\/haproxy-appliance\/state\.json \(agent 0\.1\.0\\x1b\]0;owned-by-state\\x07\\r\\n {2}PASS {2}forged\.by\.state, applied 2026\\x9b2J\\u202eLIAF\\x1b\[1A\\x1b\[2K\\x08X\)/u,
      );
      assert.match(runs.one.stdout, /\n {2}FAIL {2}hostname +the hostname is \\x1b\]0;pwn\\x07\\x1b\[2K\\rPASS {2}forged\\x9b, not haproxy\.local/u);
      assert.match(runs.fleet.stderr, /^\[\d\/2\] lb\\x1bc\\x9b2J\\x07: FAIL \(1 failed/mu);
      assert.match(runs.fleet.stdout, /^lb\\x1bc\\x9b2J\\x07 \(root@10\.191\.181\.52:22\)/mu);
      // JSON keeps the data as it was (JSON's own escapes).
      const json = JSON.parse(runs.json.stdout) as Json;
      assert.equal(check(json.hosts[0]!, 'hostname').message, `the hostname is ${hostname}, not haproxy.local (network.hostname)`);
    } finally {
      await write(['sh', '-c', `cat > ${STATE}`], origState);
      await write(['sh', '-c', 'printf "%s" "$1" > /proc/sys/kernel/hostname', 'sh', origHost]);
    }
    const again = await verifyJson(base());
    assert.equal(again.code, 0, 'restored');
  });

  test('an unreachable host, alone and in a fleet with a healthy one', async () => {
    const r = await world.verify(['10.191.181.99', '--identity', client.path, '--known-hosts', knownHosts, '--timeout', '2']);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /^root@10\.191\.181\.99:22: UNREACHABLE\n {2}10\.191\.181\.99:22: (no SSH answer within 2 s|host unreachable \(EHOSTUNREACH\))/u);
    const refused = await world.verify(['10.191.181.52:2222', '--identity', client.path, '--known-hosts', knownHosts]);
    assert.equal(refused.code, 2);
    assert.match(refused.stdout, /connection refused \(nothing listens on port 2222\)/u);
    const inv = join(world.dir, 'inventory.ini');
    await writeFile(inv, '[haproxy]\nlb1 ansible_host=10.191.181.52\nlb2 ansible_host=10.191.181.99\n\n[haproxy:vars]\nansible_user=root\n');
    const fleet = await world.verify(
      ['--inventory', inv, '--identity', client.path, '--known-hosts', knownHosts, '--timeout', '2', '--api-password-env', 'HPA_API_PW'],
      { env },
    );
    assert.equal(fleet.code, 2);
    assert.match(fleet.stderr, /\[\d\/2\] lb1: PASS \(\d+ checks\) in/u);
    assert.match(fleet.stderr, /\[\d\/2\] lb2: UNREACHABLE in/u);
    assert.match(fleet.stdout, /2 hosts: 1 passed, 1 could not be checked \(unreachable\)/u);
  });
});
