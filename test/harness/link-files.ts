/**
 * udev's `.link` handling, emulated for a namespace of a bed (udev does not run there, so nothing
 * renames interfaces by itself). Used through `TestBed.applyLinkFiles` (test/harness/netns.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IpLink } from './ip-dump.js';

/** What the emulation needs of the bed that owns the namespace. */
export interface LinkFileBed {
  ip(ns: string, args: readonly string[]): Promise<string>;
  ipJson<T = unknown>(ns: string, args: readonly string[]): Promise<T>;
  rename(ns: string, from: string, to: string): Promise<string>;
}

interface LinkFileRule {
  file: string;
  macs?: string[];
  originalNames?: string[];
  types?: string[];
  kinds?: string[];
  name?: string;
  macAddress?: string;
}

function parseUnitSections(text: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let cur: Array<[string, string]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      cur = sections.get(m[1]!) ?? [];
      sections.set(m[1]!, cur);
      continue;
    }
    const i = line.indexOf('=');
    if (cur && i > 0) cur.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return sections;
}

function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * Emulates udev's handling of the `.link` files in `unitDir` for the devices of `ns`
 * (udev does not run in the bed): for each device, the first .link file in lexical
 * order whose [Match] fits (MACAddress=, OriginalName=, Type=, Kind= are supported)
 * gives its [Link] Name= and MACAddress=. Other [Match] keys throw, so a test never
 * silently relies on something not emulated. Returns the renames done.
 */
export async function applyLinkFiles(bed: LinkFileBed, ns: string, unitDir: string): Promise<Array<{ from: string; to: string }>> {
  const files = (await readdir(unitDir)).filter((f) => f.endsWith('.link')).sort();
  const rules: LinkFileRule[] = [];
  for (const f of files) {
    const sections = parseUnitSections(await readFile(join(unitDir, f), 'utf8'));
    const rule: LinkFileRule = { file: f };
    for (const [k, v] of sections.get('Match') ?? []) {
      const list = v.split(/\s+/).filter(Boolean);
      if (k === 'MACAddress') rule.macs = [...(rule.macs ?? []), ...list.map((m) => m.toLowerCase())];
      else if (k === 'OriginalName') rule.originalNames = [...(rule.originalNames ?? []), ...list];
      else if (k === 'Type') rule.types = [...(rule.types ?? []), ...list];
      else if (k === 'Kind') rule.kinds = [...(rule.kinds ?? []), ...list];
      else throw new Error(`${f}: [Match] ${k}= is not emulated by the test bed; name the device with bed.rename()`);
    }
    for (const [k, v] of sections.get('Link') ?? []) {
      if (k === 'Name') rule.name = v;
      else if (k === 'MACAddress') rule.macAddress = v;
    }
    rules.push(rule);
  }
  const links = await bed.ipJson<IpLink[]>(ns, ['-d', 'link']);
  const done: Array<{ from: string; to: string }> = [];
  for (const l of links) {
    if (l.ifname === 'lo') continue;
    const mac = (l.address ?? '').toLowerCase();
    const rule = rules.find(
      (r) =>
        (!r.macs || r.macs.includes(mac)) &&
        (!r.originalNames || r.originalNames.some((g) => globToRegExp(g).test(l.ifname))) &&
        (!r.types || r.types.includes(l.link_type ?? '')) &&
        (!r.kinds || r.kinds.includes(l.linkinfo?.info_kind ?? '')),
    );
    if (!rule) continue;
    if (rule.macAddress) await bed.ip(ns, ['link', 'set', 'dev', l.ifname, 'address', rule.macAddress]);
    if (rule.name && rule.name !== l.ifname) {
      await bed.rename(ns, l.ifname, rule.name);
      done.push({ from: l.ifname, to: rule.name });
    }
  }
  return done;
}
