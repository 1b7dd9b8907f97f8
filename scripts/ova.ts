/**
 * `npm run ova`: builds the appliance's OVA, dist/haproxy-appliance-<version>.ova, and prints its
 * path as the last line. Run as root on Debian (Debian's packages are the only download).
 *
 *   npm run ova -- [--dataplaneapi FILE] [--size GIB] [--out DIR]
 *
 * 1. the disk: scripts/build-disk.sh (the Debian root with the agent → a streamOptimized VMDK);
 * 2. the descriptor: src/ova/envelope.ts, validated offline against DMTF DSP8023 1.1.1 (xmllint,
 *    the schemas in test/fixtures/ovf-schema/);
 * 3. the package: src/ova/archive.ts (descriptor, manifest, disk);
 * 4. the checks on what was written: GNU tar lists the members in order and extracts them, the
 *    manifest matches every file, `qemu-img check` passes on the extracted VMDK.
 * docs/ova.md explains the result.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderOvfEnvelope } from '../src/ova/envelope.js';
import { sha256File, writeOva } from '../src/ova/archive.js';
import { checkManifest } from '../src/ova/manifest.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCHEMA = join(REPO, 'test/fixtures/ovf-schema/dsp8023_1.1.1.xsd');
const DISK = 'haproxy-disk1.vmdk';
const DESCRIPTOR = 'haproxy.ovf';
const MANIFEST = 'haproxy.mf';

function fail(message: string, code = 1): never {
  process.stderr.write(`npm run ova: ${message}\n`);
  process.exit(code);
}

function say(message: string): void {
  process.stderr.write(`npm run ova: ${message}\n`);
}

/** Runs a program with its output on our stderr (progress); resolves with its exit code. */
function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((done, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (out.trim()) process.stderr.write(out.endsWith('\n') ? out : `${out}\n`);
      done(code ?? 1);
    });
  });
}

function sh(cmd: string, args: string[], input?: string): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, cwd: REPO });
  if (r.error) fail(`${cmd}: ${r.error.message} (run scripts/install-deps.sh as root)`);
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

async function main(): Promise<void> {
  let values: { dataplaneapi?: string; size?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { dataplaneapi: { type: 'string' }, size: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message} (usage: npm run ova -- [--dataplaneapi FILE] [--size GIB] [--out DIR])`, 2);
  }
  if (values.help) {
    process.stdout.write('usage: npm run ova -- [--dataplaneapi FILE] [--size GIB] [--out DIR]\n(see docs/ova.md)\n');
    return;
  }
  if (process.getuid?.() !== 0) fail('must run as root: the disk holds files of root and other users (sudo npm run ova)', 2);
  const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
  const outDir = resolve(values.out ?? join(REPO, 'dist'));
  const ova = join(outDir, `haproxy-appliance-${version}.ova`);
  const t0 = performance.now();

  // 1. The disk.
  const work = await mkdtemp(join(outDir, '.ova-'));
  try {
    const diskArgs = [join(REPO, 'scripts/build-disk.sh')];
    if (values.dataplaneapi) diskArgs.push('--dataplaneapi', resolve(values.dataplaneapi));
    if (values.size) diskArgs.push('--size', values.size);
    diskArgs.push(work);
    const code = await run('bash', diskArgs);
    if (code !== 0) fail(`building the disk failed (scripts/build-disk.sh exited ${code})`, code === 2 ? 2 : 1);
    const disk = JSON.parse(await readFile(join(work, 'disk.json'), 'utf8')) as { capacityBytes: number; vmdkBytes: number; kernel: string };
    const vmdk = join(work, DISK);
    const usage = (await readFile(join(work, 'disk-usage.txt'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.replace('\t', ' MiB '))
      .join(', ');
    say(`what takes the space in the root (before compression): ${usage}`);

    // 2. The descriptor, validated offline.
    const text = renderOvfEnvelope({ version, disk: { file: DISK, size: (await stat(vmdk)).size, capacityBytes: disk.capacityBytes } });
    const lint = sh('xmllint', ['--noout', '--nonet', '--schema', SCHEMA, '-'], text);
    if (lint.code !== 0) fail(`the descriptor does not validate against DSP8023 1.1.1:\n${lint.out}`);
    say('the descriptor validates against DMTF DSP8023 1.1.1 (xmllint)');

    // 3. The package.
    const tmp = `${ova}.tmp`;
    const result = await writeOva({ out: tmp, descriptor: { name: DESCRIPTOR, text }, manifestName: MANIFEST, disk: { name: DISK, path: vmdk } });

    // 4. Checks on what was written.
    const listed = sh('tar', ['-tf', tmp]);
    const names = listed.out.trim().split('\n');
    if (listed.code !== 0 || names.join(' ') !== `${DESCRIPTOR} ${MANIFEST} ${DISK}`)
      fail(`tar lists ${names.join(', ')}: expected ${DESCRIPTOR}, ${MANIFEST}, ${DISK}`);
    const extracted = join(work, 'extracted');
    const x = sh('sh', ['-c', 'mkdir -p "$1" && tar -xf "$2" -C "$1"', 'sh', extracted, tmp]);
    if (x.code !== 0) fail(`tar could not extract the OVA: ${x.out}`);
    const files = [];
    for (const name of [DESCRIPTOR, DISK]) files.push({ name, sha256: await sha256File(join(extracted, name)) });
    const mismatches = checkManifest(await readFile(join(extracted, MANIFEST), 'utf8'), files);
    if (mismatches.length) fail(`the manifest does not match the files: ${JSON.stringify(mismatches)}`);
    const check = sh('qemu-img', ['check', join(extracted, DISK)]);
    if (check.code !== 0) fail(`qemu-img check failed on the VMDK:\n${check.out}`);
    say('tar lists the descriptor first, the manifest matches every file, qemu-img check passes on the VMDK');
    await rename(tmp, ova);
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    say(
      `${ova}: ${mib(result.bytes)} (the VMDK ${mib(disk.vmdkBytes)}, capacity ${mib(disk.capacityBytes)}; kernel ${disk.kernel}${values.dataplaneapi ? '; Data Plane API baked in' : '; no Data Plane API binary: give --dataplaneapi FILE'}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    process.stdout.write(`${ova}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
