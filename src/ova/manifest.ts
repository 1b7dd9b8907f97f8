/**
 * The OVA's manifest (`.mf`, OVF 1.1 §5.1): one line per file of the package other than the manifest
 * itself, `SHA256(name)= hex`, as ovftool writes it. Pure: the caller hashes the files (streaming,
 * for the disk) and passes the digests, or passes the bytes of small files.
 */
import { createHash } from 'node:crypto';

export interface ManifestEntry {
  /** The file's name in the archive. */
  name: string;
  /** Its SHA-256, 64 lowercase hex digits. */
  sha256: string;
}

export interface ManifestMismatch {
  name: string;
  /** `changed`: the digest differs; `missing`: listed but not given; `unlisted`: given but not listed; `malformed`: a line that is not `SHA256(name)= hex`. */
  kind: 'changed' | 'missing' | 'unlisted' | 'malformed';
  detail: string;
}

const LINE = /^SHA256\(([^()\n]+)\)= ([0-9a-f]{64})$/u;

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An entry for a file whose bytes are in memory (the descriptor). */
export function entryOf(name: string, bytes: Uint8Array | string): ManifestEntry {
  return { name, sha256: sha256Hex(bytes) };
}

/** The manifest's text: one `SHA256(name)= hex` line per entry, in the order given, each ending in a newline. */
export function renderManifest(entries: readonly ManifestEntry[]): string {
  const seen = new Set<string>();
  return entries
    .map((e) => {
      if (!/^[^()\n/]+$/u.test(e.name)) throw new Error(`manifest: "${e.name}" is not a bare file name`);
      if (seen.has(e.name)) throw new Error(`manifest: "${e.name}" is listed twice`);
      seen.add(e.name);
      if (!/^[0-9a-f]{64}$/u.test(e.sha256)) throw new Error(`manifest: the SHA-256 of "${e.name}" is not 64 hex digits`);
      return `SHA256(${e.name})= ${e.sha256}\n`;
    })
    .join('');
}

/** Parses a manifest; a malformed line is reported as a mismatch, not thrown. */
export function parseManifest(text: string): { entries: ManifestEntry[]; malformed: ManifestMismatch[] } {
  const entries: ManifestEntry[] = [];
  const malformed: ManifestMismatch[] = [];
  text.split(/\r?\n/u).forEach((line, i) => {
    if (line === '') return;
    const m = LINE.exec(line);
    if (m) entries.push({ name: m[1]!, sha256: m[2]! });
    else malformed.push({ name: `line ${i + 1}`, kind: 'malformed', detail: `not "SHA256(name)= hex": ${JSON.stringify(line.slice(0, 80))}` });
  });
  return { entries, malformed };
}

/**
 * Checks a manifest against the package's files (each with its bytes or its digest). Returns every
 * mismatch: a changed digest, a listed file that is missing, a file the manifest does not list, a
 * name listed twice, a malformed line. An empty list means the manifest matches.
 */
export function checkManifest(text: string, files: readonly ({ name: string; bytes: Uint8Array | string } | ManifestEntry)[]): ManifestMismatch[] {
  const { entries, malformed } = parseManifest(text);
  const out: ManifestMismatch[] = [...malformed];
  const actual = new Map(files.map((f) => [f.name, 'sha256' in f ? f.sha256 : sha256Hex(f.bytes)]));
  const listed = new Set<string>();
  for (const e of entries) {
    if (listed.has(e.name)) {
      out.push({ name: e.name, kind: 'malformed', detail: 'listed twice' });
      continue;
    }
    listed.add(e.name);
    const got = actual.get(e.name);
    if (got === undefined) out.push({ name: e.name, kind: 'missing', detail: 'listed in the manifest but not in the package' });
    else if (got !== e.sha256) out.push({ name: e.name, kind: 'changed', detail: `SHA-256 is ${got}, the manifest says ${e.sha256}` });
  }
  for (const name of actual.keys()) {
    if (!listed.has(name)) out.push({ name, kind: 'unlisted', detail: 'in the package but not in the manifest' });
  }
  return out;
}
