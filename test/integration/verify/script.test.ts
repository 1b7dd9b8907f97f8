/**
 * The collection script itself, run by the real /bin/sh (dash) in an empty network namespace
 * with a private mount namespace (nothing of the host is touched): with every tool, and with
 * ss, netstat, ps and haproxy hidden — it must still finish, and the facts must say what could
 * not be known and why, instead of failing or guessing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { execa } from 'execa';
import { runChecks } from '../../../src/verify/checks/index.js';
import { observedFromSections } from '../../../src/verify/observed.js';
import { parseBinds } from '../../../src/verify/parse/haproxy.js';
import { APPLIANCE_PATHS, collectionScript, newMarker, splitSections } from '../../../src/verify/script.js';

const root = process.getuid?.() === 0;
const dir = await mkdtemp(join(tmpdir(), 'hpa-script-'));
after(() => rm(dir, { recursive: true, force: true }));

/** Runs the script with the files `hide` made empty and those of `over` (target → source) put in their place, in this run's mount namespace only. */
async function runIsolated(hide: string[], over: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; marker: string; code: number }> {
  const empty = join(dir, 'empty');
  await writeFile(empty, '', { mode: 0o644 });
  const marker = newMarker();
  const setup = [
    'mount --make-rprivate /',
    ...hide.map((t) => `[ -e ${t} ] && mount --bind ${empty} ${t}`),
    ...Object.entries(over).map(([t, from]) => `mount --bind ${from} ${t}`),
    'exec /bin/sh -s',
  ].join('; ');
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

/**
 * A haproxy.cfg written to trip a reader: indented and tab-separated headers, a keyword glued to
 * a comment, words that only start like keywords, comma lists, a disabled frontend, a bind in a
 * backend, CRLF lines, a NUL byte, lines that only look like grep's `N:` prefix; and the lines a
 * backend is mostly made of, which are not sent.
 */
const TRICKY_CFG = [
  '# _version=3',
  'global',
  '  log stdout format raw local0 info',
  'defaults',
  '  mode tcp',
  '  timeout connect 5s',
  '  timeout client 5s',
  '  timeout server 5s',
  'frontend a',
  '  bind 192.168.0.5:80,192.168.0.6:80 name x # comment',
  '\tbind\t192.168.0.7:81',
  '  bindx 192.168.0.9:1',
  '  # bind 192.168.0.10:1',
  '  default_backend b',
  '   frontend   indented',
  '  bind 192.168.0.11:82\r',
  '  disabled # off',
  'frontend#glued',
  '  bind 192.168.0.12:83',
  'frontends-not-a-keyword x',
  '  bind 192.168.0.13:84',
  'backend b',
  '  bind 192.168.0.14:85',
  '  server s1 10.0.0.1:80 # 12:bind 192.168.0.15:86',
  ...Array.from({ length: 40 }, (_, i) => `  server pad-${i} 10.0.1.${i + 1}:80 weight 100`),
  'listen l',
  '  bind :8404',
  '  bind 192.168.0.16:87 \u0000',
  '',
].join('\n');

test(
  'only the lines the verifier reads of haproxy.cfg are sent, and they give the same binds as the whole file',
  { skip: root && existsSync(APPLIANCE_PATHS.haproxyCfg) ? false : 'needs root (unshare) and a haproxy.cfg to mount over' },
  async () => {
    const cfg = join(dir, 'tricky.cfg');
    await writeFile(cfg, TRICKY_CFG, { mode: 0o644 });
    const whole = parseBinds(TRICKY_CFG);
    assert.ok(whole.length >= 8, JSON.stringify(whole));
    const r = await runIsolated([], { [APPLIANCE_PATHS.haproxyCfg]: cfg });
    assert.equal(r.code, 0, r.stderr);
    const s = splitSections(r.marker, r.stdout, r.stderr);
    assert.ok(s['haproxy-cfg-lines'], Object.keys(s).join(' '));
    assert.equal(s['haproxy-cfg'], undefined, 'the whole file is not sent when grep works');
    assert.ok(s['haproxy-cfg-lines'].stdout.length < TRICKY_CFG.length / 2, s['haproxy-cfg-lines'].stdout);
    assert.deepEqual(observedFromSections(s).binds, whole);
    // haproxy -c ran beside the rest: its section is there, last, and its process is not taken for the service's.
    assert.ok(s['haproxy-check'], 'haproxy -c ran');
    assert.equal(Object.keys(s).at(-1), 'haproxy-check');
    assert.match(s['haproxy-check'].stdout, /Configuration file is valid|ALERT|WARNING/u);
    assert.doesNotMatch(s.processes!.stdout, / -c -f /u);
    // Without grep the whole file comes, and says the same.
    const bare = await runIsolated(['/usr/bin/grep', '/bin/grep'], { [APPLIANCE_PATHS.haproxyCfg]: cfg });
    const b = splitSections(bare.marker, bare.stdout, bare.stderr);
    assert.equal(b['haproxy-cfg']?.stdout, TRICKY_CFG.replace(/\n$/u, ''));
    assert.deepEqual(observedFromSections(b).binds, whole);
  },
);
