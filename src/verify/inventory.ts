/**
 * Which hosts to verify: command-line host specs (`[user@]host[:port]`, `[v6addr]:port`) and
 * inventories — a plain host list, an Ansible INI inventory or an Ansible YAML inventory. From
 * Ansible, the connection variables are honoured (ansible_host, ansible_port, ansible_user and
 * their ansible_ssh_* forms), host variables over group variables; everything else is ignored.
 * Pure.
 *
 * Limits (each an InputError naming the file and line, exit 2, checked before anything is
 * expanded): MAX_HOSTS distinct hosts, MAX_HOST_ENTRIES host listings (a range counts every host
 * it makes, a host listed in several groups counts each time), groups nested MAX_GROUP_DEPTH deep,
 * and the YAML parser's own nesting limit. Names are data: every map here is a `Map`, so a host or
 * group called `__proto__`, `constructor` or `toString` is a host or group like any other.
 */
import { inputError } from '../errors.js';
import { isYamlMap, parseYaml, YamlError, yamlKeyLine, type YamlMap, type YamlValue } from './yaml.js';

export interface HostSpec {
  /** The name shown in reports (the inventory name, or the spec as typed). */
  name: string;
  host: string;
  port?: number;
  user?: string;
}

/**
 * At most this many hosts in one run. A host costs about 0.35–0.55 s of wall time when checked
 * alone and ~0.17 s per host in a fleet of 20 at --concurrency 20 on 2 vCPUs
 * (bench/verify.md), and its report is ~10 kB of JSON: 10,000 hosts is 30–90 minutes at the
 * default concurrency of 10 and ~100 MB of report, far above any real fleet of appliances (one
 * per Supervisor cluster) while a mistyped range like `web[0:999][0:999]` is refused at once.
 */
export const MAX_HOSTS = 10_000;
/** At most this many host listings while reading an inventory (ranges expanded, repeats counted). */
export const MAX_HOST_ENTRIES = 100_000;
/** Groups nested deeper than this (`all` → a → b → …) are refused; Ansible inventories use a few. */
export const MAX_GROUP_DEPTH = 50;

function port(text: string, where: string): number {
  const n = Number(text);
  if (!/^\d+$/u.test(text) || n < 1 || n > 65535) throw inputError(where, 'not-port', `${JSON.stringify(text)} is not a port (1-65535)`);
  return n;
}

/** Control characters (C0, DEL, C1) are never part of a host name or address. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

function badHost(host: string): boolean {
  return !host || /[\s/]/u.test(host) || CONTROL.test(host) || host.startsWith('-');
}

/** `[user@]host[:port]`; IPv6 as `[addr]` or `[addr]:port`. */
export function parseHostSpec(spec: string, where = 'HOST'): HostSpec {
  let rest = spec.trim();
  if (!rest) throw inputError(where, 'empty-host', 'empty host');
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!user) throw inputError(where, 'empty-user', `${JSON.stringify(spec)} has an empty user before @`);
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
  if (badHost(host)) throw inputError(where, 'not-host', `${JSON.stringify(spec)} is not a host name or address`);
  return { name: spec.trim(), host, ...(p !== undefined && { port: p }), ...(user && { user }) };
}

/**
 * An Ansible host pattern with its optional port, split as Ansible's `parse_address` does:
 * `[anything]:PORT` (the only way to give an IPv6 address a port: `[::1]:2222`), or
 * `host:PORT` where the host part has no `:` outside `[x:y]` ranges (`127.0.0.1:2222`,
 * `web[01:20].lab:2222`). Anything else has no port: `fe80::1` stays an IPv6 address.
 */
export function splitHostPort(pattern: string, where: string): { pattern: string; port?: number } {
  // `host:PORT` (one colon outside ranges), or `[host]:PORT`; a port that is not a number is an
  // error rather than part of a host name.
  const m = /^\[(.+)\]:([^:\]]*)$/u.exec(pattern) ?? /^((?:[^:[\]]|\[[^\]]*\])*):([^:]*)$/u.exec(pattern);
  if (!m) return { pattern };
  if (!m[1]) throw inputError(where, 'empty-host', `${JSON.stringify(pattern)} has no host before the port`);
  return { pattern: m[1], port: port(m[2]!, where) };
}

interface Range {
  /** The text before this range (after the previous one). */
  literal: string;
  values: (i: number) => string;
  count: number;
}

const RANGE = /\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\]/gu;

/** The ranges of a pattern and how many names it makes, without making them. */
function parseRanges(pattern: string, where: string): { ranges: Range[]; tail: string; count: number } {
  const ranges: Range[] = [];
  let last = 0;
  let count = 1;
  for (const m of pattern.matchAll(RANGE)) {
    const [text, from, to, stepText] = m as unknown as [string, string, string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!(step >= 1)) throw inputError(where, 'host-range-bad', `the host range ${text} has step 0`);
    let r: Omit<Range, 'literal'>;
    if (/^\d+$/u.test(from) && /^\d+$/u.test(to)) {
      const a = Number(from);
      const b = Number(to);
      const width = from.length;
      r = { count: b >= a ? Math.floor((b - a) / step) + 1 : 0, values: (i) => String(a + i * step).padStart(width, '0') };
    } else if (/^[a-z]$/u.test(from) && /^[a-z]$/u.test(to)) {
      const a = from.charCodeAt(0);
      const b = to.charCodeAt(0);
      r = { count: b >= a ? Math.floor((b - a) / step) + 1 : 0, values: (i) => String.fromCharCode(a + i * step) };
    } else
      throw inputError(where, 'host-range-bad', `cannot expand the host range ${text} in ${pattern} (begin and end must both be numbers, or both one letter)`);
    if (r.count === 0) throw inputError(where, 'host-range-bad', `the host range ${text} in ${pattern} is empty (it ends before it begins)`);
    ranges.push({ literal: pattern.slice(last, m.index), ...r });
    last = m.index + text.length;
    count *= r.count;
  }
  return { ranges, tail: pattern.slice(last), count };
}

/** How many names a host pattern makes (the product of its ranges), computed without expanding. */
export function countHostPattern(pattern: string, where: string): number {
  return parseRanges(pattern, where).count;
}

/**
 * `web[01:03].x` → web01.x, web02.x, web03.x; `[a:c]` letters too; several ranges multiply. The
 * count is checked against `limit` before anything is made.
 */
export function expandHostPattern(pattern: string, where: string, limit = MAX_HOST_ENTRIES): string[] {
  const { ranges, tail, count } = parseRanges(pattern, where);
  if (count > limit) {
    throw inputError(
      where,
      'too-many-hosts',
      `the host pattern ${pattern} makes ${count > 1e15 ? 'more than 10^15' : count} hosts; an inventory may list at most ${MAX_HOST_ENTRIES} (and ${MAX_HOSTS} distinct hosts)`,
    );
  }
  let names = [''];
  for (const r of ranges) {
    const next: string[] = [];
    for (const prefix of names) for (let i = 0; i < r.count; i++) next.push(`${prefix}${r.literal}${r.values(i)}`);
    names = next;
  }
  return names.map((n) => `${n}${tail}`);
}

type Vars = Map<string, string>;

interface HostEntry {
  vars: Vars;
  groups: Set<string>;
}

interface GroupEntry {
  vars: Vars;
  parents: Set<string>;
  /** Where the group was first named (for errors). */
  where: string;
}

interface Collected {
  file: string;
  hosts: Map<string, HostEntry>;
  groups: Map<string, GroupEntry>;
  /** Host listings so far (capped by MAX_HOST_ENTRIES). */
  entries: number;
}

function newCollected(file: string): Collected {
  return { file, hosts: new Map(), groups: new Map(), entries: 0 };
}

function groupOf(c: Collected, name: string, where: string): GroupEntry {
  let g = c.groups.get(name);
  if (!g) {
    g = { vars: new Map(), parents: new Set(), where };
    c.groups.set(name, g);
  }
  return g;
}

/**
 * Adds the hosts of one pattern (`web[1:3]:2222`) to a group. As Ansible does, a port written
 * after the host becomes the host's `ansible_port` when the host is first seen; the host
 * variables given with it (and later ones) set after it, so `ansible_port` written there wins.
 */
function addHosts(c: Collected, text: string, group: string, vars: Vars, where: string): void {
  const { pattern, port: p } = splitHostPort(text, where);
  const names = expandHostPattern(pattern, where, MAX_HOST_ENTRIES - c.entries);
  c.entries += names.length;
  groupOf(c, group, where);
  for (const name of names) {
    if (/[[\]]/u.test(name)) throw inputError(where, 'not-host', `${JSON.stringify(name)} is not a host name, address or range`);
    let h = c.hosts.get(name);
    if (!h) {
      if (c.hosts.size >= MAX_HOSTS)
        throw inputError(where, 'too-many-hosts', `more than ${MAX_HOSTS} hosts; verify at most ${MAX_HOSTS} at once (split the inventory)`);
      h = { vars: new Map(p !== undefined ? [['ansible_port', String(p)]] : []), groups: new Set() };
      c.hosts.set(name, h);
    }
    for (const [k, v] of vars) h.vars.set(k, v);
    h.groups.add(group);
  }
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
  const c = newCollected(file);
  let section: { group: string; kind: 'hosts' | 'vars' | 'children' } = { group: 'ungrouped', kind: 'hosts' };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    const line = lines[i]!.replace(/(^|\s)[#;].*$/u, '').trim();
    if (!line) continue;
    const head = /^\[([^\]:\s]+)(?::(vars|children))?\]$/u.exec(line);
    if (head) {
      section = { group: head[1]!, kind: (head[2] as 'vars' | 'children' | undefined) ?? 'hosts' };
      groupOf(c, section.group, where);
      continue;
    }
    // As Ansible: a line in brackets that is not a section is an error; `[::1]:2222` is a host.
    if (line.startsWith('[') && line.endsWith(']')) throw inputError(where, 'inventory-syntax', `bad section header ${line}`);
    if (section.kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw inputError(where, 'inventory-syntax', `expected key=value in [${section.group}:vars]`);
      groupOf(c, section.group, where).vars.set(line.slice(0, eq).trim(), unquote(line.slice(eq + 1).trim()));
    } else if (section.kind === 'children') {
      groupOf(c, line.split(/\s+/u)[0]!, where).parents.add(section.group);
    } else {
      const [name, ...rest] = splitIniWords(line);
      const vars: Vars = new Map();
      for (const w of rest) {
        const eq = w.indexOf('=');
        if (eq < 0) throw inputError(where, 'inventory-syntax', `expected key=value after the host name, found ${JSON.stringify(w)}`);
        vars.set(w.slice(0, eq), unquote(w.slice(eq + 1)));
      }
      addHosts(c, name!, section.group, vars, where);
    }
  }
  return c;
}

function yamlVars(v: YamlValue | undefined, where: string): Vars {
  const out: Vars = new Map();
  if (v === undefined || v === null) return out;
  if (!isYamlMap(v)) throw inputError(where, 'inventory-shape', `expected a mapping of variables`);
  for (const [k, x] of v) if (x !== null && typeof x !== 'object') out.set(k, String(x));
  return out;
}

function parseAnsibleYaml(text: string, file: string): Collected {
  let doc: YamlValue;
  try {
    doc = parseYaml(text);
  } catch (err) {
    if (err instanceof YamlError) throw inputError(file, 'inventory-syntax', err.message);
    throw err;
  }
  if (!isYamlMap(doc)) throw inputError(file, 'inventory-shape', `not an Ansible YAML inventory (expected groups at the top, like "all:")`);
  const c = newCollected(file);
  const at = (map: YamlMap, key: string) => `${file}:${yamlKeyLine(map, key) ?? '?'}`;
  // Recursion is bounded: by MAX_GROUP_DEPTH here, and by the YAML parser's nesting limit.
  const walk = (group: string, g: YamlValue, where: string, depth: number) => {
    if (depth > MAX_GROUP_DEPTH) throw inputError(where, 'groups-too-deep', `groups nest deeper than ${MAX_GROUP_DEPTH} levels (group ${group})`);
    groupOf(c, group, where);
    if (g === null) return;
    if (!isYamlMap(g)) throw inputError(where, 'inventory-shape', `group ${group} must be a mapping with hosts, children or vars`);
    const hosts = g.get('hosts');
    if (isYamlMap(hosts)) {
      for (const [name, vars] of hosts) addHosts(c, name, group, yamlVars(vars, at(hosts, name)), at(hosts, name));
    } else if (hosts !== undefined && hosts !== null)
      throw inputError(at(g, 'hosts'), 'inventory-shape', `hosts of group ${group} must be a mapping of host names`);
    const vars = g.get('vars');
    if (vars !== undefined) for (const [k, v] of yamlVars(vars, at(g, 'vars'))) groupOf(c, group, where).vars.set(k, v);
    const children = g.get('children');
    if (isYamlMap(children)) {
      for (const [child, sub] of children) {
        groupOf(c, child, at(children, child)).parents.add(group);
        walk(child, sub, at(children, child), depth + 1);
      }
    } else if (children !== undefined && children !== null)
      throw inputError(at(g, 'children'), 'inventory-shape', `children of group ${group} must be a mapping of group names`);
  };
  for (const [group, g] of doc) walk(group, g, at(doc, group), 1);
  return c;
}

/**
 * Each group's depth as Ansible counts it (`all` 0, a group 1 + its deepest parent; a group
 * without parents is a child of `all`), iteratively (no recursion over a long chain); a cycle or
 * a depth over MAX_GROUP_DEPTH is an error naming the group.
 */
function groupDepths(c: Collected): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  const visiting = new Set<string>();
  const parentsOf = (g: string) => c.groups.get(g)?.parents ?? new Set<string>();
  for (const start of c.groups.keys()) {
    if (depth.has(start)) continue;
    const stack: { g: string; it: Iterator<string> }[] = [{ g: start, it: parentsOf(start)[Symbol.iterator]() }];
    visiting.add(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const n = top.it.next();
      if (!n.done) {
        const p = n.value;
        if (depth.has(p)) continue;
        if (visiting.has(p)) throw inputError(c.groups.get(p)?.where ?? c.file, 'group-loop', `group ${p} is its own ancestor (a loop of children)`);
        visiting.add(p);
        stack.push({ g: p, it: parentsOf(p)[Symbol.iterator]() });
        continue;
      }
      stack.pop();
      visiting.delete(top.g);
      let d = 1;
      for (const p of parentsOf(top.g)) d = Math.max(d, depth.get(p)! + 1);
      if (d > MAX_GROUP_DEPTH)
        throw inputError(c.groups.get(top.g)?.where ?? c.file, 'groups-too-deep', `groups nest deeper than ${MAX_GROUP_DEPTH} levels (group ${top.g})`);
      depth.set(top.g, d);
    }
  }
  return depth;
}

function resolve(c: Collected): HostSpec[] {
  const depth = groupDepths(c);
  // Every group a group belongs to (its ancestors), memoised; recursion bounded by MAX_GROUP_DEPTH.
  const ancestors = new Map<string, Set<string>>();
  const ancestorsOf = (g: string): Set<string> => {
    let a = ancestors.get(g);
    if (a) return a;
    a = new Set([g]);
    for (const p of c.groups.get(g)?.parents ?? []) for (const x of ancestorsOf(p)) a.add(x);
    ancestors.set(g, a);
    return a;
  };
  // Group variables per distinct set of groups: as Ansible, `all` first, then by depth (deeper
  // groups win), then by name; host variables last.
  const merged = new Map<string, Vars>();
  const groupVars = (groups: Set<string>): Vars => {
    const key = [...groups].sort().join('\u0000');
    let vars = merged.get(key);
    if (vars) return vars;
    const all = new Set<string>(['all']);
    for (const g of groups) for (const x of ancestorsOf(g)) all.add(x);
    const order = [...all].sort((x, y) => (depth.get(x) ?? 1) - (depth.get(y) ?? 1) || (x < y ? -1 : x > y ? 1 : 0));
    vars = new Map();
    for (const g of order) for (const [k, v] of c.groups.get(g)?.vars ?? []) vars.set(k, v);
    merged.set(key, vars);
    return vars;
  };
  const out: HostSpec[] = [];
  for (const [name, h] of c.hosts) {
    const vars = new Map(groupVars(h.groups));
    for (const [k, v] of h.vars) vars.set(k, v);
    const where = `${c.file}: host ${name}`;
    const host = vars.get('ansible_host') ?? vars.get('ansible_ssh_host') ?? name;
    const p = vars.get('ansible_port') ?? vars.get('ansible_ssh_port');
    const user = vars.get('ansible_user') ?? vars.get('ansible_ssh_user');
    if (badHost(host)) throw inputError(where, 'not-host', `${JSON.stringify(host)} is not a host name or address`);
    out.push({ name, host, ...(p !== undefined && { port: port(p, where) }), ...(user && { user }) });
  }
  return out;
}

export type InventoryFormat = 'list' | 'ini' | 'yaml';

export function detectFormat(text: string, file: string): InventoryFormat {
  if (/\.ya?ml$/iu.test(file)) return 'yaml';
  const lines = text
    .split('\n')
    .map((l) => l.replace(/(^|\s)[#;].*$/u, '').trim())
    .filter((l) => l && l !== '---');
  if (lines[0] && /^[A-Za-z0-9_.-]+:$/u.test(lines[0]) && lines.length > 1 && !lines[0].includes('@')) return 'yaml';
  if (lines.some((l) => /^\[[^\]]+\]$/u.test(l) && !/^\[[0-9a-f]*:[0-9a-f:]*\](:\d+)?$/iu.test(l)) || lines.some((l) => /\s\S+=/u.test(l))) return 'ini';
  return 'list';
}

/** Parses an inventory file's text. `file` names it in errors (and picks YAML by extension). */
export function parseInventory(text: string, file: string): { format: InventoryFormat; hosts: HostSpec[] } {
  const format = detectFormat(text, file);
  if (format === 'list') {
    const hosts: HostSpec[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/(^|\s)#.*$/u, '').trim();
      if (!line) continue;
      for (const word of line.split(/\s+/u)) {
        if (hosts.length >= MAX_HOST_ENTRIES)
          throw inputError(
            `${file}:${i + 1}`,
            'too-many-hosts',
            `more than ${MAX_HOST_ENTRIES} hosts listed; verify at most ${MAX_HOSTS} at once (split the inventory)`,
          );
        hosts.push(parseHostSpec(word, `${file}:${i + 1}`));
      }
    }
    return { format, hosts };
  }
  const collected = format === 'ini' ? parseIni(text, file) : parseAnsibleYaml(text, file);
  return { format, hosts: resolve(collected) };
}
