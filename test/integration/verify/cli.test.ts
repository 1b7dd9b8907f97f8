/** `haproxy-appliance verify` usage errors: exit 2, one plain line, no secret echoed. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, SEED_ENV_FILE } from '../../harness/ovf.js';
import { PROBLEM_CODES, type Problem } from '../../../src/problems.js';

const dir = mkdtempSync(join(tmpdir(), 'hpa-verify-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function verify(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${ROOT}src/bin.ts`, 'verify', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir, ...env },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same run with --json: exit 2 and the `[at, code]` of each problem (and the headline). */
function verifyJson(args: string[], env: Record<string, string> = {}) {
  const r = verify([...args, '--json'], env);
  assert.equal(r.code, 2, `${args.join(' ')} --json: ${r.stdout}${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { ok: boolean; error: string; problems: Problem[] };
  assert.equal(doc.ok, false);
  for (const p of doc.problems) assert.ok(Object.hasOwn(PROBLEM_CODES, p.code), p.code);
  return { error: doc.error, where: doc.problems.map((p) => [p.at, p.code]), text: r.stdout };
}

test('help, and every usage error is exit 2 with one line naming the problem', () => {
  const help = verify(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: haproxy-appliance verify HOST\.\.\. \[--user root\]/u);
  for (const flag of [
    '--identity',
    '--password-env',
    '--known-hosts',
    '--accept-new',
    '--expect',
    '--inventory',
    '--concurrency',
    '--timeout',
    '--json',
    '--junit',
    '--verbose',
    '--api-user',
    '--api-password-env',
  ]) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const key = join(dir, 'id');
  writeFileSync(key, 'not a key\n');
  const enc = join(dir, 'enc');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-passphrase', '-f', enc]);
  const cases: [string[], [string, string], RegExp, Record<string, string>?][] = [
    [[], ['HOST', 'no-host'], /no host given/u],
    [['h', '--port', '70000', '--identity', enc], ['--port', 'not-number'], /--port: "70000" is not a whole number from 1 to 65535/u],
    [['h', '--password-env', 'HPA_NOPE'], ['--password-env', 'env-unset'], /--password-env: environment variable HPA_NOPE is not set/u],
    [
      ['h', '--password-env', 'hunter2 with spaces'],
      ['--password-env', 'not-env-name'],
      /--password-env: expects the NAME of an environment variable \(letters, digits and _\), not the password itself/u,
    ],
    [['h', '--identity', join(dir, 'missing')], ['--identity', 'identity-unusable'], /--identity .*missing: no such file/u],
    [['h', '--identity', key], ['--identity', 'identity-unusable'], /--identity .*: not a private key ssh understands/u],
    [['h', '--identity', enc], ['--identity', 'identity-unusable'], /the key is encrypted; load it into ssh-agent/u],
    [['h'], ['--identity', 'no-credentials'], /no credentials: give --identity FILE or --password-env VAR/u],
    [
      ['h1', 'h2', '--expect', SEED_ENV_FILE, '--password-env', 'P'],
      ['--expect', 'expect-one-host'],
      /--expect describes one appliance; 2 hosts were given/u,
      { P: 'x' },
    ],
    [
      ['--inventory', join(dir, 'nope.ini'), '--password-env', 'P'],
      [`--inventory ${join(dir, 'nope.ini')}`, 'unreadable'],
      /--inventory .*nope\.ini: no such file/u,
      { P: 'x' },
    ],
    [['h', '--concurrency', '0', '--password-env', 'P'], ['--concurrency', 'not-number'], /--concurrency/u, { P: 'x' }],
    [['h', '--bogus'], ['--bogus', 'unknown-option'], /Unknown option '--bogus'/u],
  ];
  for (const [args, at, re, env] of cases) {
    const r = verify(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.ok(!r.stderr.includes('secret-passphrase') && !r.stderr.includes('hunter2'));
    // The wording stays in the text; --json says where and which rule.
    const j = verifyJson(args, env);
    assert.deepEqual(j.where, [at], args.join(' '));
    assert.match(j.error, re, args.join(' '));
    assert.ok(!j.text.includes('secret-passphrase') && !j.text.includes('hunter2'));
  }
  const top = spawnSync(process.execPath, ['--import', 'tsx', `${ROOT}src/bin.ts`, '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.match(top.stdout, /\n {2}verify +check running appliances over SSH/u);
});

test('--expect with a bad OVF environment lists its problems (exit 2)', () => {
  const bad = join(dir, 'bad.xml');
  writeFileSync(
    bad,
    '<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection><Property oe:key="network.management_ip" oe:value="10.0.0.1/40"/></PropertySection></Environment>',
  );
  const r = verify(['h', '--expect', bad, '--password-env', 'P'], { P: 'x' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--expect .*bad\.xml: the OVF environment has \d+ problems/u);
  assert.match(r.stderr, /network\.management_ip: /u);
  const j = verifyJson(['h', '--expect', bad, '--password-env', 'P'], { P: 'x' });
  assert.match(j.error, /--expect .*bad\.xml: the OVF environment has \d+ problems/u);
  assert.ok(
    j.where.some(([at, code]) => at === 'network.management_ip' && code === 'prefix-too-long'),
    JSON.stringify(j.where),
  );
});

// Bad inventories: a refusal naming the file and line, exit 2, no stack trace, bounded memory
// (the child runs with a 512 MB heap: the old code needed 3.2 GB and then died).
test('inventories that blew up: huge ranges, a million hosts, deep YAML, /dev/zero: exit 2 naming file and line', () => {
  const small = { NODE_OPTIONS: '--max-old-space-size=512' };
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const cases: [string, RegExp, [string, string]?][] = [
    [
      file('web.ini', '[web]\nweb[0:999][0:999][0:99]\n'),
      /web\.ini:2: the host pattern web\[0:999\]\[0:999\]\[0:99\] makes 100000000 hosts; an inventory may list at most 100000 \(and 10000 distinct hosts\)/u,
      [`${dir}/web.ini:2`, 'too-many-hosts'],
    ],
    [
      file('million.txt', Array.from({ length: 1_000_000 }, (_, i) => `h${i}`).join('\n')),
      /million\.txt:100001: more than 100000 hosts listed/u,
      [`${dir}/million.txt:100001`, 'too-many-hosts'],
    ],
    [
      file('many.txt', Array.from({ length: 10_001 }, (_, i) => `h${i}`).join('\n')),
      /10001 hosts given; verify at most 10000 at once/u,
      ['HOST', 'too-many-hosts'],
    ],
    [
      file('deep.yml', `all:\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')}\n`),
      /deep\.yml: line 201: nested deeper than 200 levels/u,
    ],
    [
      file('flow.yml', `all:\n  hosts: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`),
      /flow\.yml: line 2: nested deeper than 200 levels/u,
      [`${dir}/flow.yml`, 'inventory-syntax'],
    ],
    ['/dev/zero', /--inventory \/dev\/zero: larger than 16 MiB/u, ['--inventory /dev/zero', 'file-too-large']],
    // A bad host name of 5 MB is quoted, cut, and its control characters escaped.
    [file('long.txt', `${'\u001b'.repeat(5_000_000)}/x`), /long\.txt:1: "(\\u001b){100,}… \(\d+ (more )?characters\)$/mu, [`${dir}/long.txt:1`, 'not-host']],
  ];
  for (const [inv, re, at] of cases) {
    const r = verify(['--inventory', inv, '--password-env', 'P'], { P: 'x', ...small });
    assert.equal(r.code, 2, `${inv}: exit ${r.code}: ${r.stderr.slice(0, 500)}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /u, 'no stack trace');
    assert.ok(r.stderr.length < 5000, 'one short message');
    const j = verifyJson(['--inventory', inv, '--password-env', 'P'], { P: 'x', ...small });
    assert.equal(j.where.length, 1, j.text.slice(0, 500));
    if (at) assert.deepEqual(j.where, [at], inv);
    assert.ok(j.text.length < 10_000, `one short document, not ${j.text.length} characters`);
    assert.doesNotMatch(j.text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/u, 'no raw control character, even in JSON');
  }
});

// A local inventory field printed in the report: it must not forge a line or reach the terminal
// raw. The host is 127.0.0.1 port 1 (nothing listens there): refused at once, reported with the
// inventory's user.
test('a hostile inventory (ansible_user with a newline, names with escape sequences) prints no control character', () => {
  const inv = join(dir, 'hostile.yml');
  writeFileSync(
    inv,
    [
      'all:',
      '  hosts:',
      '    "lb\\u001bc\\u009b2J\\u0007":',
      '      ansible_host: 127.0.0.1',
      '      ansible_port: 1',
      '      ansible_user: "root\\nFAKE LINE: PASS\\r  PASS  forged.by.inventory \\u202e\\u001b]0;owned\\u0007"',
      '    other:',
      '      ansible_host: 127.0.0.1',
      '      ansible_port: 1',
      '',
    ].join('\n'),
  );
  const known = join(dir, 'known_hosts_empty');
  writeFileSync(known, '');
  for (const extra of [[], ['--json']]) {
    const r = verify(['--inventory', inv, '--password-env', 'P', '--known-hosts', known, '--timeout', '5', ...extra], { P: 'x' });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const out = r.stdout + r.stderr;
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u, JSON.stringify(out));
    assert.doesNotMatch(out, /^\s*(FAKE LINE|PASS\s+forged)/mu);
    if (extra.length) {
      // JSON keeps the data exactly (escaped by JSON itself).
      const json = JSON.parse(r.stdout) as { hosts: { user: string; name: string }[] };
      assert.equal(json.hosts[0]!.user, 'root\nFAKE LINE: PASS\r  PASS  forged.by.inventory \u202e\u001b]0;owned\u0007');
    } else {
      assert.match(r.stdout, /root\\nFAKE LINE: PASS\\r {2}PASS {2}forged\.by\.inventory \\u202e\\x1b\]0;owned\\x07@127\.0\.0\.1:1/u);
      assert.match(r.stderr, /^\[\d\/2\] lb\\x1bc\\x9b2J\\x07: UNREACHABLE in/mu);
    }
  }
});
