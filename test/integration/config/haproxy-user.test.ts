/**
 * Issue #9, class 4: `loadbalance.haproxy_user` may not hold a colon. Measured against the real
 * haproxy: the userlist the agent renders (src/plan/haproxy.ts, templates/haproxy/managed.cfg.hbs)
 * is loaded by haproxy, and a client logs in with HTTP basic authentication. A user name with a
 * colon can never log in (basic auth ends the user-id at the first colon), so validation refuses
 * it; every kind of name validation accepts logs in. haproxy listens on 127.0.0.1 only and is
 * stopped by its PID.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateProperties } from '../../../src/config/validate.js';
import { haproxyModel } from '../../../src/plan/haproxy.js';
import { renderHaproxyCfg } from '../../../src/render/haproxy.js';
import type { ApplianceConfig } from '../../../src/config/types.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';

const haproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
const PASSWORD = 'S3cret pw:x';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function get(port: number, user: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

/** The `userlist controller` section of the haproxy.cfg the agent renders for `config`. */
function userlist(config: ApplianceConfig): string {
  const cfg = renderHaproxyCfg(haproxyModel(config, { salt: 'abcdefgh' })).content;
  const m = /^userlist controller\n(?:[ \t]+.*\n)+/mu.exec(cfg);
  assert.ok(m, 'the rendered haproxy.cfg has a userlist controller');
  return m[0];
}

/** Starts haproxy with that userlist guarding one frontend; the status a basic-auth login gets. */
async function login(config: ApplianceConfig, user: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-user-'));
  let child: ChildProcess | undefined;
  try {
    const port = await freePort();
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      [
        'global',
        '  maxconn 10',
        '',
        'defaults',
        '  mode http',
        '  timeout client 5s',
        '  timeout server 5s',
        '  timeout connect 5s',
        '',
        userlist(config),
        'frontend api',
        `  bind 127.0.0.1:${port}`,
        '  http-request auth realm api unless { http_auth(controller) }',
        '  http-request return status 200',
        '',
      ].join('\n'),
    );
    const check = spawnSync('haproxy', ['-c', '-q', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
    assert.equal(check.status, 0, `haproxy -c: ${check.stderr}`);
    child = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        return await get(port, user, PASSWORD);
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 50)); // until haproxy listens
      }
    }
  } finally {
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The seed's configuration with another user, bypassing validation (what the old code let through). */
function withUser(user: string): ApplianceConfig {
  const config = validateProperties({ ...SEED_PROPERTIES, 'loadbalance.haproxy_pwd': PASSWORD }).config!;
  return { ...config, loadbalance: { ...config.loadbalance, haproxyUser: user } };
}

test('real haproxy: a user name with a colon can never log in, so validation refuses it', { skip: haproxy ? false : 'needs haproxy' }, async () => {
  assert.equal(await login(withUser('wcp:admin'), 'wcp:admin'), 401, 'basic auth splits at the first colon');
  assert.deepEqual(
    validateProperties({ ...SEED_PROPERTIES, 'loadbalance.haproxy_user': 'wcp:admin' }).problems.map((p) => [p.at, p.code]),
    [['loadbalance.haproxy_user', 'user-bad-character']],
  );
});

test('real haproxy: user names validation accepts do log in', { skip: haproxy ? false : 'needs haproxy' }, async () => {
  for (const user of ['wcp', 'admin@vsphere.local', 'lb-user_1.x', 'A!$%&*+=?^`{|}~', '$HOME', 'a;b,c(d)[e]<f>/']) {
    const r = validateProperties({ ...SEED_PROPERTIES, 'loadbalance.haproxy_user': user, 'loadbalance.haproxy_pwd': PASSWORD });
    assert.ok(r.config, `${user}: ${JSON.stringify(r.problems)}`);
    assert.equal(await login(r.config, user), 200, user);
  }
});
