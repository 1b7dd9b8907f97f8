/**
 * Issue #9, class 4: the document's bytes are decoded strictly, as their byte order mark or XML
 * declaration says, by every transport (file, ISO, guestinfo); what cannot be decoded is exit 2
 * naming the encoding, never replacement characters in a password.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOvfEnvironment } from '../../../src/ingest/transports.js';
import { validateProperties } from '../../../src/config/validate.js';
import { InputError } from '../../../src/errors.js';
import type { Problem } from '../../../src/problems.js';
import { cli } from '../../harness/cli.js';
import { SEED_PROPERTIES, ovfEnv } from '../../harness/ovf.js';
import { SEED_ADAPTERS } from '../../harness/bad-inputs.js';

const PASSWORD = 'pässwörd';

/** The seed with PASSWORD as root password, declared with `encoding` (or no declaration). */
function doc(encoding: string | undefined, set: Record<string, string> = {}): string {
  const xml = ovfEnv({ ...SEED_PROPERTIES, 'appliance.root_pwd': PASSWORD, ...set }, SEED_ADAPTERS);
  return encoding === undefined ? xml.replace(/^<\?xml[^>]*\?>\n/u, '') : xml.replace('encoding="UTF-8"', `encoding="${encoding}"`);
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-decode-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads `bytes` from a file the way `--ovf-env` does, then validates: the root password, or the InputError. */
async function load(bytes: Buffer): Promise<{ password?: string; error?: InputError }> {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-decode-'));
  try {
    writeFileSync(join(dir, 'ovf-env.xml'), bytes);
    const env = await readOvfEnvironment({ file: join(dir, 'ovf-env.xml') });
    const r = validateProperties(env.properties, { adapterCount: env.adapters.length });
    assert.deepEqual(r.problems, []);
    return { password: r.config!.appliance.rootPassword! };
  } catch (err) {
    if (err instanceof InputError) return { error: err };
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The one problem of a decoding error: at the document, by the encoding rule. */
const problem = (e: InputError | undefined) => {
  assert.ok(e, 'an InputError');
  assert.deepEqual(
    e.problems.map((p) => [p.at, p.code]),
    [['OVF environment', 'bad-encoding']],
    e.message,
  );
  return e.problems[0];
};

test('a Latin-1 document that says so sets the password it holds, not replacement characters', async () => {
  for (const name of ['ISO-8859-1', 'iso-8859-1', 'latin1', 'ISO_8859-1']) {
    const r = await load(Buffer.from(doc(name), 'latin1'));
    assert.equal(r.error, undefined, `${name}: ${r.error?.message}`);
    assert.equal(r.password, PASSWORD, name);
  }
});

test('bytes that are not valid in the declared (or default) encoding are exit 2 naming it', async () => {
  // Latin-1 bytes without a declaration: XML says UTF-8, and 0xE4 is not UTF-8 there.
  const undeclared = await load(Buffer.from(doc(undefined), 'latin1'));
  assert.ok(undeclared.error, 'Latin-1 bytes read as UTF-8 must be refused');
  assert.equal(problem(undeclared.error).at, 'OVF environment');
  assert.match(problem(undeclared.error).message, /not valid UTF-8 .*an invalid byte at offset \d+ \(line \d+\)/u);
  assert.doesNotMatch(problem(undeclared.error).message, /0xE4|ä/iu, 'which byte is not said: it may be part of a password');
  const declared = await load(Buffer.from(doc('UTF-8'), 'latin1'));
  assert.match(problem(declared.error).message, /not valid UTF-8/u);
  const ascii = await load(Buffer.from(doc('US-ASCII'), 'latin1'));
  assert.match(problem(ascii.error).message, /encoding="us-ascii" but the byte at offset \d+ \(line \d+\) is not ASCII/u);
  assert.doesNotMatch(problem(ascii.error).message, /0xE4/iu);
  // Valid UTF-8 still works, declared or not.
  assert.equal((await load(Buffer.from(doc('UTF-8'), 'utf8'))).password, PASSWORD);
  assert.equal((await load(Buffer.from(doc(undefined), 'utf8'))).password, PASSWORD);
});

test('an encoding the agent does not decode is refused by name', async () => {
  for (const name of ['windows-1252', 'EBCDIC-CP-US', 'Shift_JIS']) {
    const r = await load(Buffer.from(doc(name), 'latin1'));
    assert.equal(problem(r.error).at, 'OVF environment', name);
    assert.match(problem(r.error).message, new RegExp(`encoding "${name.toLowerCase()}" is not supported; use UTF-8`, 'u'));
  }
});

test('a UTF-8 byte order mark is accepted', async () => {
  const r = await load(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc('UTF-8'), 'utf8')]));
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.password, PASSWORD);
  const noDecl = await load(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc(undefined), 'utf8')]));
  assert.equal(noDecl.password, PASSWORD);
  const contradiction = await load(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc('ISO-8859-1'), 'utf8')]));
  assert.match(problem(contradiction.error).message, /says encoding="iso-8859-1", but the byte order mark says UTF-8/u);
});

test('UTF-16 with a byte order mark (LE and BE) is decoded; without one it is refused clearly', async () => {
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(doc('UTF-16'), 'utf16le')]);
  assert.equal((await load(le)).password, PASSWORD, 'UTF-16LE');
  const be = Buffer.from(le);
  be.swap16(); // FF FE + LE units → FE FF + BE units
  assert.equal((await load(be)).password, PASSWORD, 'UTF-16BE');
  const bare = await load(Buffer.from(doc('UTF-16'), 'utf16le'));
  assert.match(problem(bare.error).message, /looks like UTF-16 without a byte order mark/u);
  const odd = await load(Buffer.concat([le, Buffer.from([0x41])]));
  assert.match(problem(odd.error).message, /not valid UTF-16LE/u);
});

test("guestinfo: vmtoolsd's stdout is decoded from its bytes, not as lossy UTF-8", () => {
  withDir((dir) => {
    // VMware Tools cannot run off a VM: a stand-in vmtoolsd prints the document's bytes, as the real one does.
    writeFileSync(join(dir, 'vmtoolsd'), `#!/bin/sh\n[ "$1" = --cmd ] && [ "$2" = "info-get guestinfo.ovfEnv" ] || exit 1\ncat '${dir}/env.xml'\n`, {
      mode: 0o755,
    });
    const env = { PATH: `${dir}:${process.env.PATH}`, OVF_ENV: '/nonexistent' };
    // validate redacts the password, so what decoding made of the bytes shows in a property it
    // echoes: a host name with ä (refused, and quoted in the message as it arrived).
    writeFileSync(join(dir, 'env.xml'), Buffer.from(doc('ISO-8859-1', { 'network.hostname': 'häproxy.local' }), 'latin1'));
    const r = cli(['validate', '--json'], { env });
    assert.equal(r.code, 2, 'ä is not allowed in a host name: it must arrive as ä, not U+FFFD');
    const doc2 = JSON.parse(r.stdout);
    assert.ok(
      doc2.problems.some((p: Problem) => p.at === 'network.hostname' && p.code === 'hostname-bad-label' && p.message.includes('"häproxy.local"')),
      r.stdout,
    );
    writeFileSync(join(dir, 'env.xml'), Buffer.from(doc(undefined), 'latin1'));
    const bad = cli(['validate', '--json'], { env });
    assert.equal(bad.code, 2);
    assert.match(JSON.parse(bad.stdout).error, /^guestinfo via vmtoolsd: the document is not valid UTF-8/u);
    assert.deepEqual(
      JSON.parse(bad.stdout).problems.map((p: Problem) => [p.at, p.code]),
      [['OVF environment', 'bad-encoding']],
    );
  });
});

const canIso = (() => {
  try {
    execFileSync('genisoimage', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('ISO transport (the image read directly): the bytes are decoded as declared', { skip: canIso ? false : 'needs genisoimage' }, async () => {
  const { readIsoRootFile } = await import('../../../src/ingest/iso9660.js');
  const { parseOvfEnvironment } = await import('../../../src/ingest/ovf-env.js');
  const dir = mkdtempSync(join(tmpdir(), 'hpa-decode-'));
  try {
    mkdirSync(join(dir, 'content'));
    writeFileSync(join(dir, 'content', 'ovf-env.xml'), Buffer.from(doc('ISO-8859-1'), 'latin1'));
    execFileSync('genisoimage', ['-quiet', '-r', '-o', join(dir, 'env.iso'), join(dir, 'content')]);
    const bytes = await readIsoRootFile(join(dir, 'env.iso'), ['ovf-env.xml']);
    assert.ok(bytes);
    assert.equal(parseOvfEnvironment(bytes, 'iso').properties['appliance.root_pwd'], PASSWORD);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
