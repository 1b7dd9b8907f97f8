/** `haproxy-appliance verify` usage errors: exit 2, one plain line, no secret echoed. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, SEED_ENV_FILE } from '../support/ovf.js';

const dir = mkdtempSync(join(tmpdir(), 'hpa-verify-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function verify(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${ROOT}src/bin.ts`, 'verify', ...args], {
    cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, ...env }, timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('help, and every usage error is exit 2 with one line naming the problem', () => {
  const help = verify(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: haproxy-appliance verify HOST\.\.\. \[--user root\]/u);
  for (const flag of ['--identity', '--password-env', '--known-hosts', '--accept-new', '--expect', '--inventory', '--concurrency', '--timeout', '--json', '--junit', '--api-user', '--api-password-env']) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const key = join(dir, 'id');
  writeFileSync(key, 'not a key\n');
  const enc = join(dir, 'enc');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-passphrase', '-f', enc]);
  const cases: [string[], RegExp, Record<string, string>?][] = [
    [[], /no host given/u],
    [['h', '--port', '70000', '--identity', enc], /--port: "70000" is not a whole number from 1 to 65535/u],
    [['h', '--password-env', 'HPA_NOPE'], /--password-env: environment variable HPA_NOPE is not set/u],
    [['h', '--password-env', 'hunter2 with spaces'], /--password-env: expects the NAME of an environment variable \(letters, digits and _\), not the password itself/u],
    [['h', '--identity', join(dir, 'missing')], /--identity .*missing: no such file/u],
    [['h', '--identity', key], /--identity .*: not a private key ssh understands/u],
    [['h', '--identity', enc], /the key is encrypted; load it into ssh-agent/u],
    [['h'], /no credentials: give --identity FILE or --password-env VAR/u],
    [['h1', 'h2', '--expect', SEED_ENV_FILE, '--password-env', 'P'], /--expect describes one appliance; 2 hosts were given/u, { P: 'x' }],
    [['--inventory', join(dir, 'nope.ini'), '--password-env', 'P'], /--inventory .*nope\.ini: no such file/u, { P: 'x' }],
    [['h', '--concurrency', '0', '--password-env', 'P'], /--concurrency/u, { P: 'x' }],
    [['h', '--bogus'], /Unknown option '--bogus'/u],
  ];
  for (const [args, re, env] of cases) {
    const r = verify(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.ok(!r.stderr.includes('secret-passphrase') && !r.stderr.includes('hunter2'));
  }
  const top = spawnSync(process.execPath, ['--import', 'tsx', `${ROOT}src/bin.ts`, '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.match(top.stdout, /\n {2}verify +check running appliances over SSH/u);
});

test('--expect with a bad OVF environment lists its problems (exit 2)', () => {
  const bad = join(dir, 'bad.xml');
  writeFileSync(bad, '<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection><Property oe:key="network.management_ip" oe:value="10.0.0.1/40"/></PropertySection></Environment>');
  const r = verify(['h', '--expect', bad, '--password-env', 'P'], { P: 'x' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--expect .*bad\.xml: the OVF environment has \d+ problems/u);
  assert.match(r.stderr, /network\.management_ip: /u);
});
