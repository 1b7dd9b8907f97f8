/**
 * The OVA: a POSIX ustar archive (IEEE 1003.1) holding the descriptor first, then the manifest, then
 * the disk. DSP0243 1.1 §5.3: the descriptor is the archive's first member; the manifest and the
 * certificate, if present, come right after it or both at the end; the other files follow in the
 * order of the descriptor's References. We put the manifest second (as ovftool does), so a reader
 * finds the descriptor and the digests without reading past the disk; that costs one extra read of
 * the disk, to hash it before it is written.
 *
 * The ustar header is written here (`ustarHeader`, pure, checked against GNU tar by the tests)
 * rather than taken from a library: three regular files with short names need 512-byte headers and
 * nothing else (no long names, links, pax records), and the disk is streamed from its file with
 * node's own streams, never held in memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { renderManifest, sha256Hex, type ManifestEntry } from './manifest.js';

export const BLOCK = 512;
/** The ustar size field holds 11 octal digits: 8 GiB - 1 bytes at most. */
export const USTAR_MAX_SIZE = 8 ** 11 - 1;

export interface TarMember {
  /** A bare file name of at most 100 bytes (no folder). */
  name: string;
  size: number;
  /** Permission bits; 0o644 unless given. */
  mode?: number;
  /** Seconds since the epoch; 0 unless given, so the same inputs make the same archive. */
  mtime?: number;
}

function octal(value: number, width: number): string {
  // width - 1 octal digits, then NUL (the field's last byte), as POSIX ustar writes numeric fields.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** The 512-byte ustar header of a regular file. Pure. */
export function ustarHeader(member: TarMember): Buffer {
  const { name, size } = member;
  const mode = member.mode ?? 0o644;
  const mtime = member.mtime ?? 0;
  if (!/^[A-Za-z0-9._-]+$/u.test(name) || Buffer.byteLength(name) > 100) {
    throw new Error(`tar: "${name}" is not a bare file name of at most 100 bytes`);
  }
  if (!Number.isSafeInteger(size) || size < 0 || size > USTAR_MAX_SIZE) throw new Error(`tar: the size of "${name}" (${size}) does not fit a ustar header`);
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > USTAR_MAX_SIZE) throw new Error(`tar: mtime ${mtime} does not fit a ustar header`);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8'); // name
  h.write(octal(mode & 0o7777, 8), 100, 8, 'ascii'); // mode
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(size, 12), 124, 12, 'ascii'); // size
  h.write(octal(mtime, 12), 136, 12, 'ascii'); // mtime
  h.write('        ', 148, 8, 'ascii'); // chksum: spaces while summing
  h.write('0', 156, 1, 'ascii'); // typeflag: regular file
  h.write('ustar\0', 257, 6, 'ascii'); // magic
  h.write('00', 263, 2, 'ascii'); // version
  h.write('root', 265, 32, 'ascii'); // uname
  h.write('root', 297, 32, 'ascii'); // gname
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii'); // chksum: 6 digits, NUL, space
  return h;
}

/** Zero bytes that round `size` up to a whole number of blocks. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK, 0);
}

async function put(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

/** The SHA-256 of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface OvaInput {
  /** Where to write the `.ova`. */
  out: string;
  /** The descriptor: its name in the archive (`*.ovf`) and its text. */
  descriptor: { name: string; text: string };
  /** The manifest's name in the archive (`*.mf`). */
  manifestName: string;
  /** The disk: its name in the archive (as the descriptor's References name it) and the file to read. */
  disk: { name: string; path: string };
  /** The members' mtime, seconds since the epoch; 0 unless given. */
  mtime?: number;
}

export interface OvaResult {
  /** The manifest's text, as written into the archive. */
  manifest: string;
  entries: ManifestEntry[];
  /** The members in archive order, with their sizes. */
  members: { name: string; size: number }[];
  /** The archive's size in bytes. */
  bytes: number;
}

/**
 * Writes the OVA: descriptor, manifest, disk, each a ustar member, then the two zero blocks that end
 * the archive. The disk is hashed in one streaming pass and copied in a second; if its size changes
 * in between, the write fails rather than leave an archive that does not match its manifest.
 */
export async function writeOva(input: OvaInput): Promise<OvaResult> {
  const mtime = input.mtime ?? 0;
  const descriptor = Buffer.from(input.descriptor.text, 'utf8');
  const diskSize = (await stat(input.disk.path)).size;
  const entries: ManifestEntry[] = [
    { name: input.descriptor.name, sha256: sha256Hex(descriptor) },
    { name: input.disk.name, sha256: await sha256File(input.disk.path) },
  ];
  const manifestText = renderManifest(entries);
  const manifest = Buffer.from(manifestText, 'utf8');
  const members = [
    { name: input.descriptor.name, size: descriptor.length },
    { name: input.manifestName, size: manifest.length },
    { name: input.disk.name, size: diskSize },
  ];
  // Check every header before creating the output file.
  const headers = members.map((m) => ustarHeader({ ...m, mtime }));

  const out = createWriteStream(input.out, { mode: 0o644 });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined); // observed by the race below; this only keeps a late error from going unhandled
  const write = async (): Promise<void> => {
    await put(out, headers[0]!);
    await put(out, descriptor);
    await put(out, padding(descriptor.length));
    await put(out, headers[1]!);
    await put(out, manifest);
    await put(out, padding(manifest.length));
    await put(out, headers[2]!);
    let copied = 0;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(input.disk.path)) {
      const buf = chunk as Buffer;
      copied += buf.length;
      if (copied > diskSize) break;
      hash.update(buf);
      await put(out, buf);
    }
    if (copied !== diskSize || hash.digest('hex') !== entries[1]!.sha256) {
      throw new Error(`ova: ${input.disk.path} changed while it was being packed`);
    }
    await put(out, padding(diskSize));
    await put(out, Buffer.alloc(2 * BLOCK, 0));
    out.end();
    await finished(out);
  };
  try {
    await Promise.race([write(), failed]);
  } catch (err) {
    out.destroy();
    await rm(input.out, { force: true }); // no partial archive left behind
    throw err;
  }
  const bytes = headers.length * BLOCK + members.reduce((n, m) => n + m.size + padding(m.size).length, 0) + 2 * BLOCK;
  return { manifest: manifestText, entries, members, bytes };
}
