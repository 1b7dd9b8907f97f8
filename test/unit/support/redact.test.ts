/**
 * What the support bundle removes (src/support/redact.ts, bundle.ts) and what it never reads
 * (src/support/collect.ts): userlist hashes, the Data Plane API password, private-key blocks
 * (whole, cut, or only their tail), crypt hashes, and the OVF environment's secret values
 * wherever and however they appear; and the cuts (journal lines, per-file and total caps).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  binary,
  capBytes,
  dropPrivateKeyBlocks,
  KEY_REMOVED,
  lastLines,
  lastPass,
  redactHaproxyCfg,
  redactNetworkd,
  redactYamlSecrets,
  scrubValues,
  secretNeedles,
} from '../../../src/support/redact.js';
import { dropCryptHashes, finishItems, packBundle } from '../../../src/support/bundle.js';
import { DEFAULT_LIMITS, DIRS, FILES, mayRead, NEVER_READ, STRUCTURAL, type Item } from '../../../src/support/collect.js';
import { environmentListing, secretValues } from '../../../src/support/environment.js';
import { SECRET_PATHS } from '../../../src/appliance/paths.js';

const KEY = readFileSync(new URL('../../fixtures/pki/ca.key', import.meta.url), 'utf8');
const CERT = readFileSync(new URL('../../fixtures/pki/ca.crt', import.meta.url), 'utf8');
const RSA_TRADITIONAL = readFileSync(new URL('../../fixtures/pki/ca-rsa-traditional.key', import.meta.url), 'utf8');
const ENCRYPTED = readFileSync(new URL('../../fixtures/pki/ca-encrypted.key', import.meta.url), 'utf8');
const HASH = '$6$abcdefgh12345678$Wq0b5pDJk1S9qS3dP6p2ZVcK7Lw5p6l0RBW0P1Pz1kB1z0X9.9cQmQe0o4b6rZQ2dHn8sO2bq5h0J6c7pQ0W1/';

test('haproxy.cfg: every userlist password hash and stats auth credential goes, the lines and global user stay', () => {
  const cfg = [
    'global',
    '  user haproxy',
    '  group haproxy',
    'userlist controller',
    `  user admin password ${HASH}`,
    '  user ops insecure-password hunter2hunter2',
    '\tuser x groups g1 password $5$salt$hash',
    'listen stats',
    '  stats auth admin:s3cret-stats',
    '',
  ].join('\n');
  const r = redactHaproxyCfg(cfg);
  assert.equal(r.count, 4);
  assert.ok(!r.text.includes(HASH) && !r.text.includes('hunter2') && !r.text.includes('$5$salt') && !r.text.includes('s3cret-stats'), r.text);
  assert.match(r.text, /^ {2}user admin password \[removed\]$/mu);
  assert.match(r.text, /^ {2}user ops insecure-password \[removed\]$/mu);
  assert.match(r.text, /^\tuser x groups g1 password \[removed\]$/mu);
  assert.match(r.text, /^ {2}stats auth \[removed\]$/mu);
  assert.match(r.text, /^ {2}user haproxy$/mu);
});

test('dataplaneapi.yaml: every password, secret or token value goes (list, block scalar, flow), paths and names stay', () => {
  const yaml = [
    'config_version: 2',
    'dataplaneapi:',
    '  tls:',
    '    tls_key: /etc/haproxy/server.key',
    '  user:',
    '    - name: admin',
    '      password: "Pl4in-API-pass"',
    '      insecure: true',
    '  users:',
    '    - { name: ops, password: flow-pass-1, insecure: true }',
    '  cluster:',
    '    token: |',
    '      multi-line-token-1',
    '      multi-line-token-2',
    '    api_secret: abc123xyz',
    '  api_password:',
    'name: lb',
    '',
  ].join('\n');
  const r = redactYamlSecrets(yaml);
  for (const s of ['Pl4in-API-pass', 'flow-pass-1', 'multi-line-token', 'abc123xyz']) assert.ok(!r.text.includes(s), `${s} in\n${r.text}`);
  assert.match(r.text, /tls_key: \/etc\/haproxy\/server\.key/u);
  assert.match(r.text, /- name: admin\n {6}password: \[removed\]\n {6}insecure: true/u);
  assert.match(r.text, /^name: lb$/mu);
  assert.match(r.text, /^ {2}api_password:$/mu, 'an empty value is left as it is');
  assert.equal(r.count, 4);
});

test('networkd: WireGuard keys go', () => {
  const r = redactNetworkd('[WireGuard]\nPrivateKey=aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=\nListenPort=51820\n[WireGuardPeer]\nPresharedKey = c2VjcmV0\n');
  assert.equal(r.text, '[WireGuard]\nPrivateKey=[removed]\nListenPort=51820\n[WireGuardPeer]\nPresharedKey = [removed]\n');
});

test('private-key blocks of every label go, certificates stay; a block cut at either end goes too', () => {
  const text = `before\n${CERT}${KEY}middle\n${RSA_TRADITIONAL}${ENCRYPTED}-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter\n`;
  const r = dropPrivateKeyBlocks(text);
  assert.equal(r.count, 4);
  assert.ok(!r.text.includes('PRIVATE KEY'), r.text);
  assert.ok(r.text.includes(CERT), 'the certificate is kept');
  assert.match(r.text, /^before\n[\s\S]*middle\n[\s\S]*after\n$/u);
  // Cut after the start (a head cut): from BEGIN to the end goes.
  const head = dropPrivateKeyBlocks(`log line\n${KEY.slice(0, 200)}`);
  assert.equal(head.text, `log line\n${KEY_REMOVED}`);
  // Cut before the end (a journal's tail): from the start to END goes.
  const tail = dropPrivateKeyBlocks(`${KEY.slice(100)}next line\n`);
  assert.equal(tail.text, `${KEY_REMOVED}\nnext line\n`);
  // In a JSON string, newlines escaped.
  const json = dropPrivateKeyBlocks(JSON.stringify({ key: KEY }));
  assert.ok(!json.text.includes('PRIVATE KEY') && !json.text.includes(KEY.split('\n')[1]!), json.text);
});

test('secret values go wherever they appear: as given, JSON-escaped, a key re-wrapped, base64-encoded, in any encoding of the file', async () => {
  const pwd = 'Pässwörd "quoted" \\ 1';
  const keyB64 = Buffer.from(KEY).toString('base64');
  const { needles, skipped } = secretNeedles([
    { property: 'appliance.root_pwd', value: pwd },
    { property: 'appliance.ca_cert_key', value: keyB64 },
    { property: 'loadbalance.haproxy_pwd', value: 'tiny' },
  ]);
  assert.deepEqual(skipped, ['loadbalance.haproxy_pwd'], 'a value shorter than 6 characters is not searched for (it is no valid password)');
  const body = KEY.split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
  const rewrapped = body.match(/.{1,76}/gu)!.join('\n');
  const text = binary(
    [
      `password=${pwd}`,
      JSON.stringify({ pwd }),
      `encoded ${keyB64}`,
      `bare body:\n${rewrapped}`,
      `one line ${KEY.split('\n')[3]!} in a log`,
      'tiny stays',
    ].join('\n'),
  );
  const r = scrubValues(text, needles);
  const out = Buffer.from(r.text, 'latin1').toString('utf8');
  assert.ok(!out.includes(pwd) && !out.includes(JSON.stringify(pwd).slice(1, -1)), out);
  assert.ok(!out.includes(keyB64));
  for (let i = 0; i + 24 <= body.length; i += 24) assert.ok(!out.replace(/\s/gu, '').includes(body.slice(i, i + 40)), `key body at ${i} in\n${out}`);
  assert.match(out, /\[secret appliance\.root_pwd removed\]/u);
  assert.match(out, /tiny stays/u);
  // The environment's values come as given and normalized.
  const values = await secretValues({ source: 'test', adapters: [], properties: { 'appliance.root_pwd': pwd, 'network.hostname': 'lb' } });
  assert.deepEqual(
    values.map((v) => v.property),
    ['appliance.root_pwd'],
  );
});

test('any secret embedded anywhere in any text is gone after the last pass (property)', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 6, maxLength: 40 }), fc.string(), fc.string(), (secret, before, after) => {
      fc.pre(secret.trim().length >= 6 && !/[\n\r]/u.test(secret));
      const { needles } = secretNeedles([{ property: 'appliance.root_pwd', value: secret }]);
      const out = lastPass(binary(`${before}${secret}${after}`), needles).text;
      return !out.includes(binary(secret));
    }),
    { numRuns: 300 },
  );
});

test('crypt hashes go anywhere (a userlist line quoted by haproxy -c, a log)', () => {
  const r = dropCryptHashes(
    `[ALERT] parsing [haproxy.cfg:34]: user admin password ${HASH} is invalid\nyescrypt $y$j9T$abcdefgh$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg\nprice $5 and $6 stay\n`,
  );
  assert.equal(r.count, 2);
  assert.ok(!r.text.includes('$6$abc') && !r.text.includes('$y$j9T'));
  assert.match(r.text, /price \$5 and \$6 stay/u);
});

test('truncation: the last N journal lines; byte caps cut at a line boundary, head or tail', () => {
  const log = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n') + '\n';
  assert.deepEqual(lastLines(log, 3), { text: 'line 7\nline 8\nline 9\n', cut: true, lines: 10 });
  assert.deepEqual(lastLines(log, 10), { text: log, cut: false, lines: 10 });
  assert.deepEqual(capBytes(log, 15, 'head'), { text: 'line 0\nline 1\n', cut: true });
  assert.deepEqual(capBytes(log, 15, 'tail'), { text: 'line 8\nline 9\n', cut: true });
  assert.deepEqual(capBytes(log, 1000, 'head'), { text: log, cut: false });
});

const item = (name: string, text: string): Item => ({ name, text, source: name, notes: [], removed: 0 });

test('caps: a member over the per-file cap is cut, members past the total cap are cut or left out, each said', () => {
  const limits = { maxFileBytes: 10_000, maxTotalBytes: 22_000 };
  const big = 'x'.repeat(99) + '\n';
  const out = finishItems(
    [item('file_a', big.repeat(200)), item('journal_b', big.repeat(50)), item('cmd_c', big.repeat(100)), item('cmd_d', big.repeat(10))],
    [],
    limits,
  );
  assert.equal(out[0]!.text.length, 10_000);
  assert.match(out[0]!.notes[0]!, /file_a: cut to 10000 bytes \(the per-file cap/u);
  assert.equal(out[1]!.text.length, 5_000);
  assert.equal(out[2]!.text.length, 7_000);
  assert.match(out[2]!.notes.at(-1)!, /cmd_c: cut to 7000 bytes: the bundle reached its total cap/u);
  assert.equal(out[3]!.text, '');
  assert.match(out[3]!.notes[0]!, /cmd_d: left out: the bundle reached its total cap/u);
});

test('the archive: summary.txt first, every member there, secrets gone, the summary says what was cut', () => {
  const meta = {
    host: 'lb',
    time: new Date('2026-12-02T06:00:00Z'),
    version: '9.9.9',
    collectMs: 1234,
    secrets: { properties: ['appliance.root_pwd'], skipped: [], source: 'file x' },
  };
  const { needles } = secretNeedles([{ property: 'appliance.root_pwd', value: 'Marker-Root-Pw' }]);
  const items = [
    item(
      'file_var_lib_haproxy-appliance_state.json',
      '{"format":1,"lastRun":{"at":"2026-12-02T05:00:00Z","outcome":"input-error","problems":[{"at":"network.management_gateway","code":"gateway-outside-subnet","message":"10.0.0.1 is outside"}]}}',
    ),
    { ...item('journal_x_boot0.txt', `Marker-Root-Pw\n${KEY}`), notes: ['x (boot 0): cut to the last 2000 lines'] },
  ];
  items[0]!.source = '/var/lib/haproxy-appliance/state.json';
  const b = packBundle(items, meta, DEFAULT_LIMITS, needles);
  const tar = gunzipSync(b.gz);
  const names: string[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    const name = tar
      .subarray(at, at + 100)
      .toString('utf8')
      .replace(/\0.*$/su, '');
    if (!name) break;
    const size = parseInt(tar.subarray(at + 124, at + 136).toString('ascii'), 8);
    names.push(name);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  assert.deepEqual(names, ['summary.txt', 'file_var_lib_haproxy-appliance_state.json', 'journal_x_boot0.txt']);
  assert.ok(!tar.includes('Marker-Root-Pw') && !tar.includes('PRIVATE KEY'));
  assert.match(b.summary, /^Host: lb$/mu);
  assert.match(b.summary, /^Agent version: 9\.9\.9$/mu);
  assert.match(b.summary, /^Last provision run: input-error at 2026-12-02T05:00:00Z$/mu);
  assert.match(b.summary, /network\.management_gateway: 10\.0\.0\.1 is outside \[gateway-outside-subnet\]/u);
  assert.match(b.summary, /^- x \(boot 0\): cut to the last 2000 lines$/mu);
  assert.match(b.summary, /journal_x_boot0\.txt: 2 removed/u);
});

test('what is read: never a private key, the root password marker or shadow; every secret file of the registry is either never read or structurally redacted', () => {
  for (const p of NEVER_READ) assert.equal(mayRead(p), false, p);
  for (const p of ['/etc/haproxy/ca.key', '/etc/ssh/ssh_host_ed25519_key', '/etc/shadow', '/var/lib/haproxy-appliance/backups/1/etc/haproxy/haproxy.cfg'])
    assert.equal(mayRead(p), false, p);
  for (const p of SECRET_PATHS) assert.ok(!mayRead(p) || p in STRUCTURAL, `${p} is read without its redactor`);
  for (const f of FILES) {
    assert.ok(mayRead(f.path), f.path);
    if (f.path in STRUCTURAL) assert.equal(f.redact, STRUCTURAL[f.path], `${f.path} has its redactor`);
  }
  for (const d of DIRS) assert.ok(mayRead(d.path), d.path);
});

test('the OVF environment listing: secret values removed, undeclared values not collected', () => {
  const text = environmentListing({
    source: 'file x',
    adapters: [],
    properties: { 'appliance.root_pwd': 'Marker-1', 'loadbalance.haproxy_pwd': '', 'network.hostname': 'lb', 'custom.thing': 'Marker-2' },
  });
  assert.ok(!text.includes('Marker'), text);
  assert.match(text, /appliance\.root_pwd = \(set; value removed\)/u);
  assert.match(text, /loadbalance\.haproxy_pwd = \(unset\)/u);
  assert.match(text, /network\.hostname = "lb"/u);
  assert.match(text, /custom\.thing = \(undeclared property; value not collected\)/u);
});
