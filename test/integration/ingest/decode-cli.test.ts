// Issue #9, class 4, guestinfo and ISO transports: the bytes are decoded as declared, through the built CLI (dist/bin.js) with a stand-in vmtoolsd, and an ISO made by genisoimage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '../../../src/problems.js';
import { cli } from '../../harness/cli.js';
import { PASSWORD, encodedEnv } from '../../harness/encoded-env.js';

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-decode-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("guestinfo: vmtoolsd's stdout is decoded from its bytes, not as lossy UTF-8", () => {
  withDir((dir) => {
    // VMware Tools cannot run off a VM: a stand-in vmtoolsd prints the document's bytes, as the real one does.
    writeFileSync(join(dir, 'vmtoolsd'), `#!/bin/sh\n[ "$1" = --cmd ] && [ "$2" = "info-get guestinfo.ovfEnv" ] || exit 1\ncat '${dir}/env.xml'\n`, {
      mode: 0o755,
    });
    const env = { PATH: `${dir}:${process.env.PATH}`, OVF_ENV: '/nonexistent' };
    // validate redacts the password, so what decoding made of the bytes shows in a property it
    // echoes: a host name with ä (refused, and quoted in the message as it arrived).
    writeFileSync(join(dir, 'env.xml'), Buffer.from(encodedEnv('ISO-8859-1', { 'network.hostname': 'häproxy.local' }), 'latin1'));
    const r = cli(['validate', '--json'], { env });
    assert.equal(r.code, 2, 'ä is not allowed in a host name: it must arrive as ä, not U+FFFD');
    const doc2 = JSON.parse(r.stdout);
    assert.ok(
      doc2.problems.some((p: Problem) => p.at === 'network.hostname' && p.code === 'hostname-bad-label' && p.message.includes('"häproxy.local"')),
      r.stdout,
    );
    writeFileSync(join(dir, 'env.xml'), Buffer.from(encodedEnv(undefined), 'latin1'));
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
    writeFileSync(join(dir, 'content', 'ovf-env.xml'), Buffer.from(encodedEnv('ISO-8859-1'), 'latin1'));
    execFileSync('genisoimage', ['-quiet', '-r', '-o', join(dir, 'env.iso'), join(dir, 'content')]);
    const bytes = await readIsoRootFile(join(dir, 'env.iso'), ['ovf-env.xml']);
    assert.ok(bytes);
    assert.equal(parseOvfEnvironment(bytes, 'iso').properties['appliance.root_pwd'], PASSWORD);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
