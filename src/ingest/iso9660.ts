/**
 * Reads one file from the root directory of an ISO 9660 image or device without mounting it.
 * The ISO transport mounts the CD-ROM read-only first; this is its fallback where the kernel
 * cannot mount iso9660 (containers, minimal kernels). Only what the OVF transport needs: the
 * primary volume descriptor's root directory, names compared without version and case.
 */
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { problem } from '../problems.js';
import { MAX_DOCUMENT_BYTES } from '../config/limits.js';
import { DOCUMENT_PROPERTY } from './decode.js';

const SECTOR = 2048;

interface DirEntry {
  name: string;
  extent: number;
  size: number;
  isDir: boolean;
}

function parseDirectory(buf: Buffer): DirEntry[] {
  const out: DirEntry[] = [];
  let off = 0;
  while (off < buf.length) {
    const len = buf[off]!;
    if (len === 0) {
      off = (Math.floor(off / SECTOR) + 1) * SECTOR; // records never cross a sector: skip the padding
      continue;
    }
    if (off + len > buf.length || len < 34) break;
    const nameLen = buf[off + 32]!;
    const raw = buf.subarray(off + 33, off + 33 + nameLen);
    out.push({
      name: nameLen === 1 && raw[0]! <= 1 ? '' : raw.toString('latin1'),
      extent: buf.readUInt32LE(off + 2),
      size: buf.readUInt32LE(off + 10),
      isDir: (buf[off + 25]! & 2) !== 0,
    });
    off += len;
  }
  return out;
}

/** `OVF_ENV.XML;1` → `ovf_env.xml`; `-` and `_` compare equal (ISO level 1 has no `-`). */
const canonical = (name: string) => name.replace(/;\d+$/u, '').replace(/\.$/u, '').toLowerCase().replace(/-/gu, '_');

/**
 * The bytes of the first root-directory file whose name matches one of `names` (undecoded: the
 * parser decodes them strictly), or undefined when the image is not ISO 9660 or holds none of
 * them. A file larger than the document limit is an InputError, not "no file".
 */
export async function readIsoRootFile(device: string, names: string[]): Promise<Uint8Array | undefined> {
  const fh = await open(device, 'r');
  try {
    const read = async (pos: number, length: number) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, pos);
      return buf.subarray(0, bytesRead);
    };
    for (let sector = 16; sector < 32; sector++) {
      const vd = await read(sector * SECTOR, SECTOR);
      if (vd.length < SECTOR || vd.toString('latin1', 1, 6) !== 'CD001') return undefined;
      if (vd[0] === 255) return undefined;
      if (vd[0] !== 1) continue;
      const root = vd.subarray(156, 156 + 34);
      const dirSize = Math.min(root.readUInt32LE(10), 64 * SECTOR);
      const entries = parseDirectory(await read(root.readUInt32LE(2) * SECTOR, dirSize));
      const wanted = new Set(names.map(canonical));
      const hit = entries.find((e) => !e.isDir && wanted.has(canonical(e.name)));
      if (!hit) return undefined;
      if (hit.size > MAX_DOCUMENT_BYTES) {
        const message = `${hit.name} is ${hit.size} bytes; at most ${MAX_DOCUMENT_BYTES} (1 MiB) are accepted`;
        throw new InputError(`ISO transport (${device}): ${message}`, [problem(DOCUMENT_PROPERTY, 'document-too-large', message)]);
      }
      return await read(hit.extent * SECTOR, hit.size);
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
