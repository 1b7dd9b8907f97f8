/**
 * Which hosts to verify: command-line host specs (`[user@]host[:port]`, `[v6addr]:port`) and
 * inventories — a plain host list, an Ansible INI inventory or an Ansible YAML inventory. From
 * Ansible, the connection variables are honoured (ansible_host, ansible_port, ansible_user and
 * their ansible_ssh_* forms), host variables over group variables; everything else is ignored.
 * Pure.
 */
import { InputError } from '../errors.js';
import { parseYaml, YamlError, type YamlValue } from './yaml.js';

export interface HostSpec {
  /** The name shown in reports (the inventory name, or the spec as typed). */
  name: string;
  host: string;
  port?: number;
  user?: string;
}

function port(text: string, where: string): number {
  const n = Number(text);
  if (!/^\d+$/u.test(text) || n < 1 || n > 65535) throw new InputError(`${where}: ${JSON.stringify(text)} is not a port (1-65535)`);
  return n;
}

/** `[user@]host[:port]`; IPv6 as `[addr]` or `[addr]:port`. */
export function parseHostSpec(spec: string, where = 'HOST'): HostSpec {
  let rest = spec.trim();
  if (!rest) throw new InputError(`${where}: empty host`);
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!user) throw new InputError(`${where}: ${JSON.stringify(spec)} has an empty user before @`);
  }
  let host = rest;
  let p: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(.+))?$/u.exec(rest);
  if (v6) {
    host = v6[1]!;
    if (v6[2] !== undefined) p = port(v6[2], where);
  } else if ((rest.match(/:/gu) ?? []).length === 1) {
    const i = rest.indexOf(':');
    host = rest.slice(0, i);
    p = port(rest.slice(i + 1), where);
  }
  if (!host || /[\s/]/u.test(host) || host.startsWith('-')) throw new InputError(`${where}: ${JSON.stringify(spec)} is not a host name or address`);
  return { name: spec.trim(), host, ...(p !== undefined && { port: p }), ...(user && { user }) };
}

type Vars = Record<string, string>;

interface Collected {
  order: string[];
  hostVars: Map<string, Vars>;
  hostGroups: Map<string, string[]>;
  groupVars: Map<string, Vars>;
  children: Map<string, string[]>;
}

function newCollected(): Collected {
  return { order: [], hostVars: new Map(), hostGroups: new Map(), groupVars: new Map(), children: new Map() };
}

function addHost(c: Collected, name: string, group: string | undefined, vars: Vars): void {
  if (!c.hostVars.has(name)) {
    c.order.push(name);
    c.hostVars.set(name, {});
    c.hostGroups.set(name, []);
  }
  Object.assign(c.hostVars.get(name)!, vars);
  if (group) c.hostGroups.get(name)!.push(group);
}

/** `web[01:03].x` → web01.x, web02.x, web03.x; `[a:c]` letters too. */
export function expandHostPattern(pattern: string, where: string): string[] {
  const m = /^(.*?)\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\](.*)$/u.exec(pattern);
  if (!m) return [pattern];
  const [, pre, from, to, stepText, post] = m as unknown as [string, string, string, string, string | undefined, string];
  const step = stepText ? Number(stepText) : 1;
  const out: string[] = [];
  if (/^\d+$/u.test(from) && /^\d+$/u.test(to)) {
    const width = from.length;
    for (let i = Number(from); i <= Number(to) && out.length <= 10_000; i += step) out.push(`${pre}${String(i).padStart(width, '0')}${post}`);
  } else if (/^[a-z]$/u.test(from) && /^[a-z]$/u.test(to)) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += step) out.push(`${pre}${String.fromCharCode(c)}${post}`);
  } else throw new InputError(`${where}: cannot expand the host range ${pattern}`);
  if (out.length > 10_000) throw new InputError(`${where}: the host range ${pattern} is too large`);
  return out.flatMap((h) => expandHostPattern(h, where));
}

function splitIniWords(line: string): string[] {
  const out: string[] = [];
  const re = /(?:[^\s"']+|"[^"]*"|'[^']*')+/gu;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[0]);
  return out;
}

function unquote(v: string): string {
  return /^(["']).*\1$/u.test(v) ? v.slice(1, -1) : v;
}

function parseIni(text: string, file: string): Collected {
  const c = newCollected();
  let section: { group: string; kind: 'hosts' | 'vars' | 'children' } = { group: 'ungrouped', kind: 'hosts' };
  text.split('\n').forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.replace(/(^|\s)[#;].*$/u, '').trim();
    if (!line) return;
    const head = /^\[([^\]:]+)(?::(vars|children))?\]$/u.exec(line);
    if (head) {
      section = { group: head[1]!, kind: (head[2] as 'vars' | 'children' | undefined) ?? 'hosts' };
      return;
    }
    if (line.startsWith('[')) throw new InputError(`${where}: bad section header ${line}`);
    if (section.kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw new InputError(`${where}: expected key=value in [${section.group}:vars]`);
      const vars = c.groupVars.get(section.group) ?? {};
      vars[line.slice(0, eq).trim()] = unquote(line.slice(eq + 1).trim());
      c.groupVars.set(section.group, vars);
    } else if (section.kind === 'children') {
      const kids = c.children.get(section.group) ?? [];
      kids.push(line.split(/\s+/u)[0]!);
      c.children.set(section.group, kids);
    } else {
      const [name, ...rest] = splitIniWords(line);
      const vars: Vars = {};
      for (const w of rest) {
        const eq = w.indexOf('=');
        if (eq < 0) throw new InputError(`${where}: expected key=value after the host name, found ${JSON.stringify(w)}`);
        vars[w.slice(0, eq)] = unquote(w.slice(eq + 1));
      }
      for (const h of expandHostPattern(name!, where)) addHost(c, h, section.group, vars);
    }
  });
  return c;
}

function yamlVars(v: YamlValue | undefined): Vars {
  const out: Vars = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (x !== null && typeof x !== 'object') out[k] = String(x);
  }
  return out;
}

function parseAnsibleYaml(text: string, file: string): Collected {
  let doc: YamlValue;
  try {
    doc = parseYaml(text);
  } catch (err) {
    if (err instanceof YamlError) throw new InputError(`${file}: ${err.message}`);
    throw err;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(`${file}: not an Ansible YAML inventory (expected groups at the top, like "all:")`);
  const c = newCollected();
  const walk = (group: string, g: YamlValue, depth: number) => {
    if (depth > 50) throw new InputError(`${file}: groups nest too deeply`);
    if (g === null) return;
    if (typeof g !== 'object' || Array.isArray(g)) throw new InputError(`${file}: group ${group} must be a mapping with hosts, children or vars`);
    const hosts = g.hosts;
    if (hosts && typeof hosts === 'object' && !Array.isArray(hosts)) {
      for (const [name, vars] of Object.entries(hosts)) for (const h of expandHostPattern(name, file)) addHost(c, h, group, yamlVars(vars));
    } else if (hosts !== undefined && hosts !== null) throw new InputError(`${file}: hosts of group ${group} must be a mapping of host names`);
    if (g.vars) c.groupVars.set(group, { ...(c.groupVars.get(group) ?? {}), ...yamlVars(g.vars) });
    const children = g.children;
    if (children && typeof children === 'object' && !Array.isArray(children)) {
      for (const [child, sub] of Object.entries(children)) {
        c.children.set(group, [...(c.children.get(group) ?? []), child]);
        walk(child, sub, depth + 1);
      }
    }
  };
  for (const [group, g] of Object.entries(doc)) walk(group, g, 0);
  return c;
}

function resolve(c: Collected, file: string): HostSpec[] {
  // Parents of each group, for group variables inherited from `all` and parent groups.
  const parents = new Map<string, string[]>();
  for (const [g, kids] of c.children) for (const k of kids) parents.set(k, [...(parents.get(k) ?? []), g]);
  const ancestry = (g: string, seen = new Set<string>()): string[] => {
    if (seen.has(g)) return [];
    seen.add(g);
    return [...(parents.get(g) ?? []).flatMap((p) => ancestry(p, seen)), g];
  };
  return c.order.map((name) => {
    // As Ansible: `all` first, then parents before children (deeper groups win), host vars last.
    const depth = new Map<string, number>([['all', 0]]);
    for (const g of c.hostGroups.get(name) ?? []) {
      const chain = ancestry(g);
      chain.forEach((a, i) => depth.set(a, Math.max(depth.get(a) ?? 0, a === 'all' ? 0 : i + 1)));
    }
    const vars: Vars = {};
    for (const g of [...depth].sort((x, y) => x[1] - y[1]).map(([g]) => g)) Object.assign(vars, c.groupVars.get(g) ?? {});
    Object.assign(vars, c.hostVars.get(name));
    const where = `${file}: host ${name}`;
    const host = vars.ansible_host ?? vars.ansible_ssh_host ?? name;
    const p = vars.ansible_port ?? vars.ansible_ssh_port;
    const user = vars.ansible_user ?? vars.ansible_ssh_user;
    if (/[\s/]/u.test(host) || !host) throw new InputError(`${where}: ${JSON.stringify(host)} is not a host name or address`);
    return { name, host, ...(p !== undefined && { port: port(p, where) }), ...(user && { user }) };
  });
}

export type InventoryFormat = 'list' | 'ini' | 'yaml';

export function detectFormat(text: string, file: string): InventoryFormat {
  if (/\.ya?ml$/iu.test(file)) return 'yaml';
  const lines = text.split('\n').map((l) => l.replace(/(^|\s)[#;].*$/u, '').trim()).filter((l) => l && l !== '---');
  if (lines[0] && /^[A-Za-z0-9_.-]+:$/u.test(lines[0]) && lines.length > 1 && !lines[0].includes('@')) return 'yaml';
  if (lines.some((l) => /^\[[^\]]+\]$/u.test(l) && !/^\[[0-9a-f:]+\](:\d+)?$/iu.test(l)) || lines.some((l) => /\s\S+=/u.test(l))) return 'ini';
  return 'list';
}

/** Parses an inventory file's text. `file` names it in errors (and picks YAML by extension). */
export function parseInventory(text: string, file: string): { format: InventoryFormat; hosts: HostSpec[] } {
  const format = detectFormat(text, file);
  if (format === 'list') {
    const hosts: HostSpec[] = [];
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/(^|\s)#.*$/u, '').trim();
      if (!line) return;
      for (const word of line.split(/\s+/u)) hosts.push(parseHostSpec(word, `${file}:${i + 1}`));
    });
    return { format, hosts };
  }
  const collected = format === 'ini' ? parseIni(text, file) : parseAnsibleYaml(text, file);
  return { format, hosts: resolve(collected, file) };
}
