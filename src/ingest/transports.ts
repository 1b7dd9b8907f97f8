/**
 * Where the OVF environment comes from. Unless a file is named, the transports are tried in this
 * order: VMware guestinfo (vmtoolsd, then vmware-rpctool), the ISO transport (a CD-ROM with an
 * iso9660 file system holding ovf-env.xml, mounted read-only, or read directly where the kernel
 * cannot mount iso9660), then the file named by OVF_ENV (the environment variable, or the line
 * in /etc/default/haproxy-appliance).
 * This is the ingest stage's only I/O.
 */
import { constants, mkdtemp, open, readFile, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { problem } from '../problems.js';
import { run } from '../util/run.js';
import type { OvfEnvironment } from '../config/types.js';
import { parseOvfEnvironment } from './ovf-env.js';
import { readIsoRootFile } from './iso9660.js';
import { AGENT_DEFAULTS_FILE, readDefaultsFile } from '../config/agent-defaults.js';
import { MAX_DOCUMENT_BYTES } from '../config/limits.js';
import { DOCUMENT_PROPERTY } from './decode.js';

export interface ReadOptions {
  /** `--ovf-env FILE`: read only this file. */
  file?: string;
  /** The process environment (for OVF_ENV); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A transport's answer: the document's bytes, or why it had none (for the error that lists them all). */
type Attempt = { xml: Uint8Array; source: string } | { tried: string };

function tooLarge(source: string): never {
  const message = `the document is larger than ${MAX_DOCUMENT_BYTES} bytes (1 MiB); a real OVF environment is a few kilobytes`;
  throw new InputError(`${source}: ${message}`, [problem(DOCUMENT_PROPERTY, 'document-too-large', message)]);
}

/**
 * A file's bytes, read bounded: only a regular file is read (a FIFO would block, /dev/zero never
 * ends), and never more than MAX_DOCUMENT_BYTES + 1 bytes of it. Opened non-blocking, so even
 * opening a FIFO without a writer returns at once. Throws InputError for anything but a regular
 * file of at most that size; a system error (ENOENT, EACCES) as it is.
 */
export async function readDocumentFile(path: string, source: string): Promise<Uint8Array> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory()
        ? 'a directory'
        : st.isFIFO()
          ? 'a FIFO'
          : st.isCharacterDevice()
            ? 'a character device'
            : st.isBlockDevice()
              ? 'a block device'
              : st.isSocket()
                ? 'a socket'
                : 'not a regular file';
      const message = `is ${kind}, not a regular file; give the OVF environment document (ovf-env.xml)`;
      throw new InputError(`${source}: ${message}`, [problem(DOCUMENT_PROPERTY, 'not-a-file', message)]);
    }
    if (st.size > MAX_DOCUMENT_BYTES) tooLarge(source);
    const buf = Buffer.alloc(MAX_DOCUMENT_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > MAX_DOCUMENT_BYTES) tooLarge(source); // grew while being read
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

const GUESTINFO_KEY = 'info-get guestinfo.ovfEnv';

async function fromTool(tool: string, argv: string[]): Promise<Attempt> {
  const r = await run([tool, ...argv], { timeoutMs: 10_000, bytes: { max: MAX_DOCUMENT_BYTES } });
  const label = `guestinfo via ${tool}`;
  if (r.notFound) return { tried: `${label} (${tool} is not installed)` };
  if (r.overflow) tooLarge(label);
  if (r.exitCode !== 0 || !r.stdout.trim()) {
    return { tried: `${label} (guestinfo.ovfEnv is empty: the OVF descriptor must declare ovf:transport="com.vmware.guestInfo")` };
  }
  return { xml: r.stdoutBytes!, source: label };
}

/**
 * Block devices holding an iso9660 file system (the CD-ROM vSphere attaches), with their mount
 * point when already mounted. blkid probes the devices itself (`-c /dev/null`: no cache), so this
 * works before udev has filled its database, early in boot.
 */
async function isoDevices(): Promise<{ path: string; mount?: string }[]> {
  const r = await run(['blkid', '-c', '/dev/null', '-t', 'TYPE=iso9660', '-o', 'device'], { timeoutMs: 15_000 });
  const paths = r.exitCode === 0 ? r.stdout.split('\n').filter(Boolean) : [];
  if (paths.length === 0) return [];
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  return paths.map((path) => {
    const line = mounts.split('\n').find((l) => l.startsWith(`${path} `));
    const mount = line?.split(' ')[1]?.replace(/\\040/gu, ' ');
    return { path, ...(mount && { mount }) };
  });
}

const ISO_NAMES = ['ovf-env.xml', 'OVF-ENV.XML', 'OVF-ENV.XML;1', 'ovf_env.xml', 'OVF_ENV.XML'];

async function readFirst(dir: string, source: string): Promise<Uint8Array | undefined> {
  for (const name of ISO_NAMES) {
    try {
      return await readDocumentFile(join(dir, name), source);
    } catch (err) {
      if (err instanceof InputError) throw err; // there, but not a document: say so
      /* not there: try the next spelling */
    }
  }
  return undefined;
}

/** Mounts the device read-only on a private temporary folder, reads ovf-env.xml, unmounts. */
async function mountAndRead(path: string): Promise<Uint8Array | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'ovf-iso-'));
  try {
    const m = await run(['mount', '-o', 'ro', '-t', 'iso9660', path, dir]);
    if (m.exitCode !== 0) return undefined; // e.g. no iso9660 in this kernel: the caller reads the image itself
    try {
      return await readFirst(dir, `ISO transport (${path})`);
    } finally {
      await run(['umount', dir]);
    }
  } finally {
    await rmdir(dir).catch(() => undefined);
  }
}

async function fromIso(): Promise<Attempt> {
  const devices = await isoDevices().catch(() => []);
  if (devices.length === 0) return { tried: 'ISO transport (no CD-ROM with an iso9660 file system)' };
  for (const dev of devices) {
    const { path } = dev;
    if (dev.mount) {
      const xml = await readFirst(dev.mount, `ISO transport (${path} at ${dev.mount})`);
      if (xml) return { xml, source: `ISO transport (${path} at ${dev.mount})` };
      continue;
    }
    const xml =
      (await mountAndRead(path)) ??
      (await readIsoRootFile(path, ISO_NAMES).catch((err: unknown) => {
        if (err instanceof InputError) throw err;
        return undefined;
      }));
    if (xml) return { xml, source: `ISO transport (${path})` };
  }
  return { tried: `ISO transport (${devices.map((d) => d.path).join(', ')}: no ovf-env.xml)` };
}

async function fromFile(path: string, label: string): Promise<Attempt> {
  try {
    return { xml: await readDocumentFile(path, `${label} ${path}`), source: `${label} ${path}` };
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    return { tried: `${label} ${path} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code)})` };
  }
}

/** Reads and parses the OVF environment; throws InputError listing every transport tried. */
export async function readOvfEnvironment(options: ReadOptions = {}): Promise<OvfEnvironment> {
  const env = options.env ?? process.env;
  const attempts: (() => Promise<Attempt>)[] = options.file
    ? [() => fromFile(options.file!, 'file')]
    : [
        () => fromTool('vmtoolsd', ['--cmd', GUESTINFO_KEY]),
        () => fromTool('vmware-rpctool', [GUESTINFO_KEY]),
        fromIso,
        async () => {
          // Set by systemd from the defaults file for the first-boot unit; an admin's rerun from a
          // shell reads the same file, so both find the same environment.
          const file = env.OVF_ENV || (await readDefaultsFile().catch(() => new Map<string, string>())).get('OVF_ENV');
          return file ? fromFile(file, 'OVF_ENV file') : { tried: `OVF_ENV (not set, nor in ${AGENT_DEFAULTS_FILE})` };
        },
      ];
  const tried: string[] = [];
  for (const attempt of attempts) {
    const a = await attempt();
    if ('xml' in a) return parseOvfEnvironment(a.xml, a.source);
    tried.push(a.tried);
  }
  const message = `no OVF environment found; tried: ${tried.join('; ')}`;
  throw new InputError(message, [problem(DOCUMENT_PROPERTY, 'no-environment', message)]);
}
