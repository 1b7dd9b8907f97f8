/**
 * The collection script itself, run by the real /bin/sh (dash) in an empty network namespace
 * with a private mount namespace (nothing of the host is touched): with every tool, and with
 * ss, netstat, ps and haproxy hidden — it must still finish, and the facts must say what could
 * not be known and why, instead of failing or guessing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { execa } from 'execa';
import { runChecks } from '../../../src/verify/checks/index.js';
import { observedFromSections } from '../../../src/verify/observed.js';
import { collectionScript, newMarker, splitSections } from '../../../src/verify/script.js';

const root = process.getuid?.() === 0;
const dir = await mkdtemp(join(tmpdir(), 'hpa-script-'));
after(() => rm(dir, { recursive: true, force: true }));

async function runIsolated(hide: string[]): Promise<{ stdout: string; stderr: string; marker: string; code: number }> {
  const empty = join(dir, 'empty');
  await writeFile(empty, '', { mode: 0o644 });
  const marker = newMarker();
  const setup = ['mount --make-rprivate /', ...hide.map((t) => `[ -e ${t} ] && mount --bind ${empty} ${t}`), 'exec /bin/sh -s'].join('; ');
  const r = await execa('unshare', ['--mount', '--net', 'sh', '-c', setup], {
    input: collectionScript(marker),
    reject: false,
    timeout: 30_000,
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    extendEnv: false,
  });
  return { stdout: String(r.stdout), stderr: String(r.stderr), marker, code: r.exitCode ?? -1 };
}

test('with every tool present, in an empty network namespace', { skip: root ? false : 'needs root (unshare)' }, async () => {
  const r = await runIsolated([]);
  assert.equal(r.code, 0, r.stderr);
  const s = splitSections(r.marker, r.stdout, r.stderr);
  const f = observedFromSections(s);
  assert.equal(f.listenerTool, 'ss');
  assert.deepEqual(f.listeners, []);
  assert.deepEqual(
    f.interfaces!.map((i) => i.name),
    ['lo'],
  );
  assert.equal(f.serviceMethod, 'process');
  assert.ok(f.services!.every((x) => x.state === 'not running'));
});

test('with ss, netstat, ps and haproxy missing, the script finishes and the facts say why', { skip: root ? false : 'needs root (unshare)' }, async () => {
  const r = await runIsolated([
    '/usr/bin/ss',
    '/bin/ss',
    '/usr/sbin/ss',
    '/usr/bin/netstat',
    '/bin/netstat',
    '/usr/bin/ps',
    '/bin/ps',
    '/usr/sbin/haproxy',
    '/usr/bin/haproxy',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const s = splitSections(r.marker, r.stdout, r.stderr);
  assert.ok(s['listeners.none'] && s['haproxy-missing']);
  const f = observedFromSections(s);
  assert.equal(f.listeners, undefined);
  assert.equal(f.listenerProblem, 'neither ss nor netstat is installed on the appliance');
  assert.deepEqual(f.haproxyCheck, { missing: true });
  assert.deepEqual(f.processes, []);
  const rs = runChecks({ observed: f, now: new Date() });
  assert.equal(rs.find((x) => x.id === 'haproxy.config')!.message, 'haproxy is not installed on the appliance');
  assert.equal(rs.find((x) => x.id === 'state')!.status, 'fail');
});
