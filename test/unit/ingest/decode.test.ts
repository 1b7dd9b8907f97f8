/**
 * Issue #9, class 4: the document's bytes are decoded strictly, as their byte order mark or XML
 * declaration says, by every transport (file, ISO, guestinfo); what cannot be decoded is exit 2
 * naming the encoding, never replacement characters in a password. The guestinfo and ISO transports
 * (a stand-in vmtoolsd under the built CLI, genisoimage): test/integration/ingest/decode-cli.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOvfEnvironment } from '../../../src/ingest/transports.js';
import { validateProperties } from '../../../src/config/validate.js';
import { InputError } from '../../../src/errors.js';
import { PASSWORD, encodedEnv } from '../../harness/encoded-env.js';

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
    const r = await load(Buffer.from(encodedEnv(name), 'latin1'));
    assert.equal(r.error, undefined, `${name}: ${r.error?.message}`);
    assert.equal(r.password, PASSWORD, name);
  }
});

test('bytes that are not valid in the declared (or default) encoding are exit 2 naming it', async () => {
  // Latin-1 bytes without a declaration: XML says UTF-8, and 0xE4 is not UTF-8 there.
  const undeclared = await load(Buffer.from(encodedEnv(undefined), 'latin1'));
  assert.ok(undeclared.error, 'Latin-1 bytes read as UTF-8 must be refused');
  assert.equal(problem(undeclared.error).at, 'OVF environment');
  assert.match(problem(undeclared.error).message, /not valid UTF-8 .*an invalid byte at offset \d+ \(line \d+\)/u);
  assert.doesNotMatch(problem(undeclared.error).message, /0xE4|ä/iu, 'which byte is not said: it may be part of a password');
  const declared = await load(Buffer.from(encodedEnv('UTF-8'), 'latin1'));
  assert.match(problem(declared.error).message, /not valid UTF-8/u);
  const ascii = await load(Buffer.from(encodedEnv('US-ASCII'), 'latin1'));
  assert.match(problem(ascii.error).message, /encoding="us-ascii" but the byte at offset \d+ \(line \d+\) is not ASCII/u);
  assert.doesNotMatch(problem(ascii.error).message, /0xE4/iu);
  // Valid UTF-8 still works, declared or not.
  assert.equal((await load(Buffer.from(encodedEnv('UTF-8'), 'utf8'))).password, PASSWORD);
  assert.equal((await load(Buffer.from(encodedEnv(undefined), 'utf8'))).password, PASSWORD);
});

test('an encoding the agent does not decode is refused by name', async () => {
  for (const name of ['windows-1252', 'EBCDIC-CP-US', 'Shift_JIS']) {
    const r = await load(Buffer.from(encodedEnv(name), 'latin1'));
    assert.equal(problem(r.error).at, 'OVF environment', name);
    assert.match(problem(r.error).message, new RegExp(`encoding "${name.toLowerCase()}" is not supported; use UTF-8`, 'u'));
  }
});

test('a UTF-8 byte order mark is accepted', async () => {
  const r = await load(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(encodedEnv('UTF-8'), 'utf8')]));
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.password, PASSWORD);
  const noDecl = await load(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(encodedEnv(undefined), 'utf8')]));
  assert.equal(noDecl.password, PASSWORD);
  const contradiction = await load(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(encodedEnv('ISO-8859-1'), 'utf8')]));
  assert.match(problem(contradiction.error).message, /says encoding="iso-8859-1", but the byte order mark says UTF-8/u);
});

test('UTF-16 with a byte order mark (LE and BE) is decoded; without one it is refused clearly', async () => {
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(encodedEnv('UTF-16'), 'utf16le')]);
  assert.equal((await load(le)).password, PASSWORD, 'UTF-16LE');
  const be = Buffer.from(le);
  be.swap16(); // FF FE + LE units → FE FF + BE units
  assert.equal((await load(be)).password, PASSWORD, 'UTF-16BE');
  const bare = await load(Buffer.from(encodedEnv('UTF-16'), 'utf16le'));
  assert.match(problem(bare.error).message, /looks like UTF-16 without a byte order mark/u);
  const odd = await load(Buffer.concat([le, Buffer.from([0x41])]));
  assert.match(problem(odd.error).message, /not valid UTF-16LE/u);
});
