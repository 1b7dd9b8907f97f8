/**
 * Concurrency: no lost update, one run at a time.
 * - The Data Plane API (a stand-in that saves haproxy.cfg the way its config-parser does: flock on
 *   the file, temporary file, rename) adds and deletes services while provision reruns over and
 *   over with changed properties: every service it wrote is in the final haproxy.cfg, none it
 *   deleted comes back.
 * - The run lock is a kernel lock: with runs killed while holding it and many contenders racing,
 *   never two runs in their critical section at once; a killed holder frees it at once; a PID
 *   left in the lock file means nothing.
 * - Facts and keys are made under the lock: two first runs never make two CAs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { verify } from 'unixcrypt';
import { cli, type Run } from '../../harness/cli.js';
import { envFile, withSandbox } from '../../harness/sandbox.js';
import { fixture, ROOT } from '../../harness/ovf.js';
import { lockPath } from '../../../src/apply/lock.js';
import { ApplyError } from '../../../src/errors.js';

const CA = { 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': fixture('pki/ca.key') };
const WRITER = join(ROOT, 'test/harness/dataplane-writer.cjs');

/** The CLI, started without waiting (several at once). */
function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}dist/bin.js`, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    process.kill(child.pid!, signal);
  });
}

/** Frontend names of a haproxy.cfg. */
const frontends = (cfg: string) => [...cfg.matchAll(/^frontend (\S+)/gmu)].map((m) => m[1]!).sort();

test('the Data Plane API saving haproxy.cfg during 20 reruns loses no service and revives none', { timeout: 300_000 }, async () => {
  await withSandbox(async (root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA, 'first.xml')]).code, 0);
    const cfg = join(root, 'etc/haproxy/haproxy.cfg');
    const writer = spawn(process.execPath, [WRITER, cfg, '40'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    writer.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const done = new Promise<void>((resolve) => writer.on('close', () => resolve()));
    let last = '';
    try {
      for (let i = 0; i < 20; i++) {
        // A new API password each time: the userlist changes, so every rerun rewrites haproxy.cfg.
        last = `api-password-${i}`;
        const r = await cliAsync(['provision', '--root', root, '--ovf-env', envFile(dir, { ...CA, 'loadbalance.haproxy_pwd': last }, `run-${i}.xml`)]);
        assert.equal(r.code, 0, `rerun ${i}: ${r.stderr}`);
        assert.match(r.stdout, /updated \/etc\/haproxy\/haproxy\.cfg/u, `rerun ${i} rewrote haproxy.cfg`);
      }
    } finally {
      await stop(writer, 'SIGTERM');
      await done;
    }
    const api = JSON.parse(out) as { services: string[]; saves: number };
    assert.ok(api.saves >= 20, `the stand-in saved while provision ran (${api.saves} saves)`);
    const final = readFileSync(cfg, 'utf8');
    assert.deepEqual(frontends(final), api.services, 'exactly the services the API holds: none lost, none revived');
    const hash = /^\s*user \S+ password (\S+)/mu.exec(final)?.[1];
    assert.ok(hash && verify(last, hash), "the last rerun's userlist is in place");
    const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });
});

test('a merged candidate made stale by the API while a run was killed is dropped at recovery, not written', { timeout: 120_000 }, async () => {
  await withSandbox(async (root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA, 'first.xml')]).code, 0);
    const env = envFile(dir, { ...CA, 'loadbalance.haproxy_pwd': 'another-password' }, 'second.xml');
    const crashed = cli(['provision', '--root', root, '--ovf-env', env], { env: { HAPROXY_APPLIANCE_CRASH_AT: 'journal-committing' } });
    assert.equal(crashed.code, -1, crashed.stderr);
    // The API saves while the run lies dead with its candidate staged.
    const cfg = join(root, 'etc/haproxy/haproxy.cfg');
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}\nbackend added-while-dead\n  mode tcp\n  server s0 172.16.10.9:6443\n`);
    const next = cli(['provision', '--root', root, '--ovf-env', env]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /\/etc\/haproxy\/haproxy\.cfg had been changed by another writer since, so its candidate was dropped/u);
    const final = readFileSync(cfg, 'utf8');
    assert.match(final, /^backend added-while-dead$/mu, "the API's section survives");
    assert.ok(verify('another-password', /^\s*user \S+ password (\S+)/mu.exec(final)![1]!), 'and the new userlist is merged with it');
  });
});

test('killed holders and racing contenders: never two runs in the critical section at once', { timeout: 300_000 }, async () => {
  await withSandbox(async (root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA, 'first.xml')]).code, 0);
    // `haproxy -c` runs under the lock whenever haproxy.cfg changes: a wrapper marks the critical
    // section with an exclusive file and records any overlap.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const mark = join(dir, 'in-critical-section');
    const overlaps = join(dir, 'overlaps');
    const entered = join(dir, 'entered');
    writeFileSync(
      join(bin, 'haproxy'),
      `#!/bin/sh
if ! (set -C; : > '${mark}') 2>/dev/null; then echo overlap >> '${overlaps}'; fi
echo x >> '${entered}'
sleep 0.3
rm -f '${mark}'
exec /usr/sbin/haproxy "$@"
`,
    );
    chmodSync(join(bin, 'haproxy'), 0o755);
    const PATH = `${bin}:${process.env.PATH}`;
    let successes = 0;
    for (let trial = 0; trial < 10; trial++) {
      // A run killed while it holds the lock: an old-style PID lock would be left stale here.
      const victim = cli(['provision', '--root', root, '--ovf-env', envFile(dir, { ...CA, 'loadbalance.haproxy_pwd': `victim-${trial}` }, 'victim.xml')], {
        env: { PATH, HAPROXY_APPLIANCE_CRASH_AT: 'locked' },
      });
      assert.equal(victim.code, -1, victim.stderr);
      const runs = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          cliAsync(['provision', '--root', root, '--ovf-env', envFile(dir, { ...CA, 'loadbalance.haproxy_pwd': `contender-${trial}-${i}` }, `c${i}.xml`)], {
            PATH,
          }),
        ),
      );
      const ok = runs.filter((r) => r.code === 0).length;
      assert.ok(ok >= 1, `trial ${trial}: someone got the lock: ${runs.map((r) => r.stderr).join('\n')}`);
      for (const r of runs.filter((x) => x.code !== 0)) {
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /another provision run (\(pid \d+\) )?holds the lock/u);
      }
      successes += ok;
    }
    assert.equal(existsSync(overlaps) ? readFileSync(overlaps, 'utf8') : '', '', 'no two runs were ever in the critical section together');
    assert.ok(readFileSync(entered, 'utf8').length / 2 >= successes, 'the critical section was really entered');
  });
});

test('a held run lock refuses another run; a holder killed with SIGKILL frees it at once', { timeout: 60_000 }, async () => {
  await withSandbox(async (root, dir) => {
    const env = envFile(dir, CA);
    // Another holder of the root's lock: util-linux flock(1) on the root directory, replaced by
    // `sleep` (--no-fork), so that the process holding the lock is the one we kill.
    const holder = spawn('flock', ['-x', '--no-fork', root, 'sleep', '600'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const busy = cli(['provision', '--root', root, '--ovf-env', env]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, new RegExp(`another provision run holds the lock on ${root}; wait for it to finish`, 'u'));
      assert.deepEqual(readdirSync(root), [], 'a refused run writes nothing');
    } finally {
      await stop(holder);
    }
    const r = cli(['provision', '--root', root, '--ovf-env', env]);
    assert.equal(r.code, 0, r.stderr);
  });
});

test('the lock file: a PID in it means nothing, release drops only our own lock, the file stays', async () => {
  await withSandbox(async (_root, dir) => {
    const file = join(dir, 'run/haproxy-appliance.lock');
    mkdirSync(join(dir, 'run'));
    writeFileSync(file, `${process.pid}\n`); // a live PID (ours), as a reused PID after power loss
    const a = await lockPath(file, 'file');
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    await assert.rejects(lockPath(file, 'file'), (e) => e instanceof ApplyError && /another provision run \(pid \d+\) holds the lock/u.test(e.message));
    await a.release();
    assert.ok(existsSync(file), 'the lock file is never deleted');
    const b = await lockPath(file, 'file');
    await a.release(); // a second release of an old holder
    await assert.rejects(lockPath(file, 'file'), ApplyError, 'b still holds it');
    await b.release();
    await (await lockPath(file, 'file')).release();
  });
});

test('two first runs make one CA: facts and keys are made under the lock', { timeout: 120_000 }, async () => {
  await withSandbox(async (root, dir) => {
    const env = envFile(dir, {}, 'no-ca.xml'); // no CA given: the first run generates one
    // Run B's OpenSSL is slow, so B is still making keys while A runs from start to end.
    const bin = join(dir, 'slow');
    mkdirSync(bin);
    writeFileSync(join(bin, 'openssl'), '#!/bin/sh\nsleep 1.5\nexec /usr/bin/openssl "$@"\n');
    chmodSync(join(bin, 'openssl'), 0o755);
    const b = cliAsync(['provision', '--root', root, '--ovf-env', env], { PATH: `${bin}:${process.env.PATH}` });
    await new Promise((r) => setTimeout(r, 700));
    const a = await cliAsync(['provision', '--root', root, '--ovf-env', env]);
    const rb = await b;
    const cas = [a, rb].filter((r) => r.code === 0 && /created \/etc\/haproxy\/ca\.crt|updated \/etc\/haproxy\/ca\.crt/u.test(r.stdout));
    assert.equal(cas.length, 1, `exactly one run wrote a CA:\nA ${a.code} ${a.stdout}${a.stderr}\nB ${rb.code} ${rb.stdout}${rb.stderr}`);
    for (const r of [a, rb]) if (r.code !== 0) assert.match(r.stderr, /another provision run holds the lock/u);
    const backups = join(root, 'var/lib/haproxy-appliance/backups');
    const replaced = existsSync(backups) ? readdirSync(backups).filter((run) => existsSync(join(backups, run, 'etc/haproxy/ca.crt'))) : [];
    assert.deepEqual(replaced, [], 'no CA was ever replaced');
    const ca = new X509Certificate(readFileSync(join(root, 'etc/haproxy/ca.crt')));
    assert.ok(new X509Certificate(readFileSync(join(root, 'etc/haproxy/server.crt'))).checkIssued(ca), "the server certificate is the CA's");
  });
});
