/**
 * The support bundle as bytes: every collected item through the last pass (src/support/redact.ts),
 * the caps applied (per member and in total, each cut said in summary.txt), summary.txt written,
 * then a ustar archive (the OVA's writer, src/ova/archive.ts) with summary.txt first, gzipped
 * (node:zlib). Pure but for the gzip.
 */
import { gzipSync } from 'node:zlib';
import { parseStateFile } from '../appliance/state.js';
import { STATE_FILE } from '../appliance/paths.js';
import { BLOCK, padding, ustarHeader } from '../ova/archive.js';
import type { Item, Limits } from './collect.js';
import { capBytes, lastPass, REMOVED, type Needle, type Redacted } from './redact.js';

/** Where the secret values scrubbed in the last pass came from. */
export interface SecretsRead {
  /** The OVF environment's source, when it was read. */
  source?: string;
  /** The secret properties that had a value (their values are scrubbed; never printed). */
  properties: string[];
  /** Why the environment could not be read (then only the structural redaction and the key-block pass apply). */
  error?: string;
  /** Properties whose value was too short to search for. */
  skipped: string[];
}

export interface BundleMeta {
  host: string;
  time: Date;
  version: string;
  /** The sandbox the files were read from, if any. */
  root?: string;
  secrets: SecretsRead;
  /** How long the collection took (ms). */
  collectMs: number;
}

export interface BuiltBundle {
  gz: Buffer;
  summary: string;
  members: { name: string; size: number }[];
  /** Bytes of the members before gzip. */
  rawBytes: number;
}

/** crypt(3) hashes anywhere ($1$, $5$, $6$, $y$ yescrypt, $2b$ bcrypt…): a userlist or shadow line quoted in a log. */
export function dropCryptHashes(text: string): Redacted {
  let count = 0;
  const out = text.replace(/\$(?:1|2[abxy]?|5|6|7|y|gy|sha1|md5)\$[./A-Za-z0-9$=,]{8,}/gu, () => {
    count++;
    return REMOVED;
  });
  return { text: out, count };
}

function clean(text: string, needles: readonly Needle[]): Redacted {
  const a = lastPass(text, needles);
  const b = dropCryptHashes(a.text);
  return { text: b.text, count: a.count + b.count };
}

const keepOf = (name: string): 'head' | 'tail' => (name.startsWith('journal_') ? 'tail' : 'head');

/** The members through the last pass and the caps; what was cut or left out is added to their notes. */
export function finishItems(items: readonly Item[], needles: readonly Needle[], limits: Pick<Limits, 'maxFileBytes' | 'maxTotalBytes'>): Item[] {
  const out: Item[] = [];
  let total = 0;
  for (const item of items) {
    const red = clean(item.text, needles);
    let text = red.text;
    const notes = [...item.notes];
    if (text.length > limits.maxFileBytes) {
      text = capBytes(text, limits.maxFileBytes, keepOf(item.name)).text;
      notes.push(
        `${item.name}: cut to ${text.length} bytes (the per-file cap, ${limits.maxFileBytes} bytes; its ${keepOf(item.name) === 'head' ? 'start' : 'end'} kept)`,
      );
    }
    const room = limits.maxTotalBytes - total;
    if (text.length > room) {
      if (room < 4096) {
        notes.push(`${item.name}: left out: the bundle reached its total cap (${limits.maxTotalBytes} bytes)`);
        out.push({ ...item, text: '', notes, removed: item.removed + red.count });
        continue;
      }
      text = capBytes(text, room, keepOf(item.name)).text;
      notes.push(`${item.name}: cut to ${text.length} bytes: the bundle reached its total cap (${limits.maxTotalBytes} bytes)`);
    }
    total += text.length;
    out.push({ ...item, text, notes, removed: item.removed + red.count });
  }
  return out;
}

function lastRunLines(items: readonly Item[]): string[] {
  const state = items.find((i) => i.source === STATE_FILE);
  if (!state || state.text === '') return [`Last provision run: unknown (no ${STATE_FILE})`];
  const parsed = parseStateFile(Buffer.from(state.text, 'latin1').toString('utf8'));
  if (typeof parsed === 'string') return [`Last provision run: unknown (${STATE_FILE}: ${parsed})`];
  const lines: string[] = [];
  const r = parsed.lastRun;
  if (r) {
    lines.push(`Last provision run: ${r.outcome} at ${r.at}${r.source ? ` (OVF environment from ${r.source})` : ''}`);
    for (const p of r.problems ?? []) lines.push(`  ${p.at}: ${p.message} [${p.code}]`);
  } else lines.push('Last provision run: not recorded (an agent before lastRun)');
  if (parsed.applied)
    lines.push(`Last applied: ${parsed.applied.appliedAt} by agent ${parsed.applied.version} (${Object.keys(parsed.applied.files).length} files)`);
  return lines;
}

/** The text of summary.txt. */
export function renderSummary(items: readonly Item[], meta: BundleMeta, limits: Limits): string {
  const s = meta.secrets;
  const kept = items.filter((i) => i.text !== '');
  const removed = items.filter((i) => i.removed > 0);
  const notes = items.flatMap((i) => i.notes);
  return [
    'haproxy-appliance support bundle',
    '',
    'The state of one HAProxy load-balancer appliance (vSphere with Tanzu), for troubleshooting:',
    'journals, network and service state, the generated configuration and system facts. Secrets',
    'are removed (see "Removed" below, and docs/operations.md "Support bundle").',
    '',
    `Host: ${meta.host}`,
    `Time: ${meta.time.toISOString()}`,
    `Agent version: ${meta.version}`,
    `Collected in: ${(meta.collectMs / 1000).toFixed(2)} s`,
    ...(meta.root !== undefined ? [`Files read under --root ${meta.root}; commands, journals and system facts are of the machine that ran the command`] : []),
    ...lastRunLines(items),
    '',
    'Removed:',
    '- never read: the CA and server private keys (/etc/haproxy/ca.key, server.key), the SSH host keys,',
    '  the root password marker (/var/lib/haproxy-appliance/root-password.applied), /etc/shadow, the',
    '  apply backups and the PKI work folder;',
    '- haproxy.cfg: the password hash of every userlist user, and stats auth credentials;',
    '- dataplaneapi.yaml: the value of every password, secret or token key;',
    '- networkd files: WireGuard PrivateKey= and PresharedKey=;',
    '- everywhere: every PEM private-key block, every crypt(3) password hash, and the values of the',
    '  OVF environment secret properties (appliance.root_pwd, appliance.ca_cert_key,',
    '  loadbalance.haproxy_pwd), wherever they appear;',
    s.error !== undefined
      ? `- the OVF environment could not be read (${s.error}): its secret values were not searched for`
      : `- secret values searched for: ${s.properties.length ? s.properties.join(', ') : 'none set'} (OVF environment from ${s.source ?? 'unknown'})`,
    ...(s.skipped.length ? [`- not searched for (shorter than 6 characters): ${s.skipped.join(', ')}`] : []),
    ...removed.map((i) => `  ${i.name}: ${i.removed} removed`),
    '',
    `Caps: journals cut to the last ${limits.journalLines} lines each; ${limits.maxFileBytes} bytes per file; ${limits.maxTotalBytes} bytes in all; ${limits.commandTimeoutMs / 1000} s per command.`,
    '',
    'Cut, failed or left out:',
    ...(notes.length ? notes.map((n) => `- ${n}`) : ['- nothing']),
    '',
    'Members:',
    ...kept.map((i) => `  ${i.name.padEnd(56)} ${String(i.text.length).padStart(9)}  ${i.source}`),
    '',
  ].join('\n');
}

/** The archive: summary.txt first, then every non-empty member, gzipped. */
export function packBundle(items: readonly Item[], meta: BundleMeta, limits: Limits, needles: readonly Needle[]): BuiltBundle {
  const finished = finishItems(items, needles, limits);
  const summary = clean(renderSummary(finished, meta, limits), needles).text;
  const mtime = Math.floor(meta.time.getTime() / 1000);
  const members = [
    { name: 'summary.txt', data: Buffer.from(summary, 'latin1') },
    ...finished.filter((i) => i.text !== '').map((i) => ({ name: i.name, data: Buffer.from(i.text, 'latin1') })),
  ];
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  for (const m of members) {
    if (seen.has(m.name)) continue;
    seen.add(m.name);
    parts.push(ustarHeader({ name: m.name, size: m.data.length, mode: 0o600, mtime }), m.data, padding(m.data.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK, 0));
  const tar = Buffer.concat(parts);
  return {
    gz: gzipSync(tar, { level: 6 }),
    summary: Buffer.from(summary, 'latin1').toString('utf8'),
    members: members.map((m) => ({ name: m.name, size: m.data.length })),
    rawBytes: tar.length,
  };
}
