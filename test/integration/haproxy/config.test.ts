/**
 * haproxy.cfg: managed sections rendered, the Data Plane API's sections kept byte for byte, the
 * result accepted by the real `haproxy -c`, and the userlist really authenticating in a running
 * haproxy on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify } from 'unixcrypt';
import { validateProperties } from '../../../src/config/validate.js';
import type { ApplianceConfig } from '../../../src/config/types.js';
import { haproxyModel, userlistHash, type HaproxyFacts } from '../../../src/plan/haproxy.js';
import { isManaged, parseSections } from '../../../src/plan/haproxy-sections.js';
import { renderHaproxyCfg } from '../../../src/render/haproxy.js';
import { SEED_PROPERTIES, fixture } from '../../harness/ovf.js';

/** haproxy.cfg as planAppliance makes it: the model, rendered. */
const planHaproxyConfig = (config: ApplianceConfig, facts: HaproxyFacts) => renderHaproxyCfg(haproxyModel(config, facts));

const API_CFG = fixture('haproxy/api-sections.cfg');
const seed = (over: Record<string, string> = {}) => validateProperties({ ...SEED_PROPERTIES, ...over }).config!;
const unmanagedText = (cfg: string) =>
  parseSections(cfg)
    .sections.filter((s) => !isManaged(s))
    .map((s) => s.text)
    .join('');

function haproxyCheck(cfg: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-cfg-'));
  try {
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    const r = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a first boot writes the managed sections, and haproxy -c accepts them', () => {
  const file = planHaproxyConfig(seed(), { salt: 'abcdefgh12345678' });
  assert.equal(file.mode, 0o600);
  assert.match(file.content, /^userlist controller\n {2}user wcp password \$6\$abcdefgh12345678\$[./0-9A-Za-z]{86}$/m);
  assert.doesNotMatch(file.content, /insecure-password|rounds=/);
  assert.match(file.content, /stats socket \/run\/haproxy.sock .*expose-fd listeners/);
  assert.match(file.content, /^ {2}master-worker$/m);
  const check = haproxyCheck(file.content);
  assert.equal(check.status, 0, check.output);
});

test('a rerun keeps the Data Plane API sections byte for byte and the _version line', () => {
  const file = planHaproxyConfig(seed({ 'loadbalance.haproxy_pwd': 'new-password' }), { existingCfg: API_CFG, salt: 'saltsaltsalt' });
  assert.equal(unmanagedText(file.content), unmanagedText(API_CFG));
  assert.ok(file.content.startsWith('# _version=7\n'));
  assert.ok(file.content.includes('user wcp password $6$saltsaltsalt$'), 'a changed password gets a new hash');
  const check = haproxyCheck(file.content);
  assert.equal(check.status, 0, check.output);
  // Again with the result: nothing changes.
  assert.equal(planHaproxyConfig(seed({ 'loadbalance.haproxy_pwd': 'new-password' }), { existingCfg: file.content, salt: 'other' }).content, file.content);
});

test('the hash has exactly four $-separated parts and verifies like crypt(3)', () => {
  const h = userlistHash('--200p@ssword', 'abcdefghijklmnop');
  assert.equal(h.split('$').length, 4);
  assert.ok(verify('--200p@ssword', h));
  const openssl = spawnSync('openssl', ['passwd', '-6', '-salt', 'abcdefghijklmnop', '-stdin'], { input: '--200p@ssword', encoding: 'utf8' });
  assert.equal(h, openssl.stdout.trim(), 'same as OpenSSL');
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      })
      .on('error', reject);
  });
}

function get(port: number, auth?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', timeout: 5000, headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('the userlist really authenticates in a running haproxy: the property password in, a wrong one out', async () => {
  const pwd = `p"a$s w\\rd-${Date.now()}`;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hpa-auth-'));
  const cfg =
    planHaproxyConfig(seed({ 'loadbalance.haproxy_pwd': pwd }), { salt: 'authtestsalt' }).content.replace(
      /^ {2}(chroot .*|user haproxy|group haproxy|stats socket .*)\n/gm,
      '',
    ) + // unprivileged, no shared socket: a test instance
    `\nfrontend auth-test\n  mode http\n  bind 127.0.0.1:${port}\n  timeout client 5s\n  http-request auth realm test unless { http_auth(controller) }\n  http-request return status 200\n`;
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  const proc = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  try {
    let status = 0;
    for (let i = 0; i < 50 && status === 0; i++) {
      status = await get(port, `wcp:${pwd}`).catch(() => 0);
      if (status === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, stderr);
    assert.equal(await get(port, 'wcp:wrong-password'), 401);
    assert.equal(await get(port, `other:${pwd}`), 401);
    assert.equal(await get(port), 401);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
