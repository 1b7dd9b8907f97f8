/**
 * The ISO transport for real: an iso9660 image holding ovf-env.xml, attached read-only as a loop
 * device (what a CD-ROM is to the kernel), found by probing block devices and mounted read-only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '../../../src/problems.js';
import { cli } from '../../harness/cli.js';
import { SEED_ENV_FILE } from '../../harness/ovf.js';

const canLoop =
  process.getuid?.() === 0 &&
  (() => {
    try {
      execFileSync('losetup', ['-f'], { stdio: 'ignore' });
      execFileSync('genisoimage', ['-version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

test(
  'ISO transport: a CD-ROM image with ovf-env.xml is found, read and unmounted again',
  { skip: canLoop ? false : 'needs root, loop devices and genisoimage' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpa-iso-'));
    let device: string | undefined;
    try {
      mkdirSync(join(dir, 'content'));
      copyFileSync(SEED_ENV_FILE, join(dir, 'content', 'ovf-env.xml'));
      // Plain ISO 9660 (no Rock Ridge): the file shows as OVF-ENV.XML, as on some producers' media.
      execFileSync('genisoimage', ['-quiet', '-V', 'OVF ENV', '-o', join(dir, 'env.iso'), join(dir, 'content')]);
      device = execFileSync('losetup', ['--find', '--show', '--read-only', join(dir, 'env.iso')], { encoding: 'utf8' }).trim();
      const r = cli(['validate', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.source, `ISO transport (${device})`);
      assert.equal(doc.config.network.management.address.cidr, '10.191.181.52/20');
      assert.ok(
        !readFileSync('/proc/mounts', 'utf8')
          .split('\n')
          .some((l) => l.startsWith(`${device} `)),
        'the ISO is unmounted after reading',
      );
    } finally {
      if (device) execFileSync('losetup', ['-d', device]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'the ISO 9660 reader finds ovf-env.xml with plain, Rock Ridge and Joliet names, and nothing in other files',
  { skip: canLoop ? false : 'needs genisoimage' },
  async () => {
    const { readIsoRootFile } = await import('../../../src/ingest/iso9660.js');
    const dir = mkdtempSync(join(tmpdir(), 'hpa-iso-'));
    try {
      mkdirSync(join(dir, 'content'));
      copyFileSync(SEED_ENV_FILE, join(dir, 'content', 'ovf-env.xml'));
      for (const flags of [[], ['-r'], ['-J', '-r']]) {
        const iso = join(dir, `env${flags.join('')}.iso`);
        execFileSync('genisoimage', ['-quiet', ...flags, '-o', iso, join(dir, 'content')]);
        assert.deepEqual(Buffer.from((await readIsoRootFile(iso, ['ovf-env.xml']))!), readFileSync(SEED_ENV_FILE), flags.join(' '));
        assert.equal(await readIsoRootFile(iso, ['other.xml']), undefined);
      }
      assert.equal(await readIsoRootFile(SEED_ENV_FILE, ['ovf-env.xml']), undefined, 'not an ISO');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'ISO transport, mounted: a Latin-1 document is decoded as it declares, not as lossy UTF-8',
  { skip: canLoop ? false : 'needs root, loop devices and genisoimage' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpa-iso-'));
    let device: string | undefined;
    try {
      mkdirSync(join(dir, 'content'));
      const xml = readFileSync(SEED_ENV_FILE, 'utf8').replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace('"haproxy.local"', '"häproxy.local"');
      assert.ok(xml.includes('häproxy') && xml.includes('ISO-8859-1'));
      writeFileSync(join(dir, 'content', 'ovf-env.xml'), Buffer.from(xml, 'latin1'));
      execFileSync('genisoimage', ['-quiet', '-r', '-V', 'OVF ENV', '-o', join(dir, 'env.iso'), join(dir, 'content')]);
      device = execFileSync('losetup', ['--find', '--show', '--read-only', join(dir, 'env.iso')], { encoding: 'utf8' }).trim();
      const r = cli(['validate', '--json']);
      assert.equal(r.code, 2, 'ä is not allowed in a host name');
      const doc = JSON.parse(r.stdout);
      assert.match(doc.error, new RegExp(`ISO transport \\(${device}\\)`, 'u'));
      assert.ok(
        doc.problems.some((p: Problem) => p.at === 'network.hostname' && p.code === 'hostname-bad-label' && p.message.includes('"häproxy.local"')),
        r.stdout,
      );
    } finally {
      if (device) execFileSync('losetup', ['-d', device]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
