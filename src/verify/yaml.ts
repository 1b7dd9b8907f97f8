/**
 * The part of YAML an Ansible inventory uses: block mappings by indentation, `key: value`
 * scalars (plain, 'single' and "double" quoted), `~`/`null`/empty values, comments, `---`,
 * flow `{}` / `[]` when empty, and block sequences of scalars. Anything else (anchors, tags,
 * multi-line scalars, flow collections with content) is an error naming its line, never a
 * guess. Pure. (No YAML package is a dependency; an inventory needs no more than this.)
 *
 * Mappings are `Map`s: a key is data, never a property name, so `__proto__`, `constructor` or
 * `toString` are keys like any other. Nesting is limited to YAML_MAX_DEPTH levels (an error
 * naming the line, not a stack overflow); each key's line is kept for the inventory's errors.
 */

export type YamlMap = Map<string, YamlValue>;
export type YamlValue = string | number | boolean | null | YamlValue[] | YamlMap;

/**
 * Deepest nesting of block mappings and lists. An Ansible inventory nests two levels per group
 * (`children:` and the group's name) plus two for hosts and their variables: 200 levels hold
 * groups nested 98 deep, far beyond the inventory's own group-depth limit.
 */
export const YAML_MAX_DEPTH = 200;

const keyLines = new WeakMap<YamlMap, Map<string, number>>();

/** The line a key of a parsed mapping was written on. */
export function yamlKeyLine(map: YamlMap, key: string): number | undefined {
  return keyLines.get(map)?.get(key);
}

export function isYamlMap(v: YamlValue | undefined): v is YamlMap {
  return v instanceof Map;
}

export class YamlError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'YamlError';
  }
}

interface Line {
  no: number;
  indent: number;
  text: string;
}

function stripComment(s: string): string {
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = undefined;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s:[{,]/u.test(s[i - 1]!)) q = c;
    } else if (c === '#' && (i === 0 || /\s/u.test(s[i - 1]!))) return s.slice(0, i);
  }
  return s;
}

function scalar(raw: string, no: number): YamlValue {
  const t = raw.trim();
  if (t === '' || t === '~' || t === 'null' || t === 'Null' || t === 'NULL') return null;
  if (t === '{}') return new Map();
  if (t === '[]') return [];
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2) throw new YamlError(no, `unterminated string ${t}`);
    try {
      return JSON.parse(t) as string;
    } catch {
      throw new YamlError(no, `bad double-quoted string ${t}`);
    }
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new YamlError(no, `unterminated string ${t}`);
    return t.slice(1, -1).replace(/''/gu, "'");
  }
  if (/^[&*!|>]/u.test(t) || t.startsWith('{') || t.startsWith('[')) throw new YamlError(no, `unsupported YAML (${t.slice(0, 20)}): use plain keys and values`);
  if (/^(true|True|TRUE|yes|Yes)$/u.test(t)) return true;
  if (/^(false|False|FALSE|no|No)$/u.test(t)) return false;
  if (/^-?\d+$/u.test(t)) return Number(t);
  return t;
}

/** Splits `key: value` outside quotes; undefined when the line is not a mapping entry. */
function splitKey(text: string): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (text.startsWith('"')) {
    // A double-quoted key means what the same double-quoted value means (escapes decoded).
    const m = /^"(?:[^"\\]|\\.)*"/u.exec(text);
    if (!m || text[m[0].length] !== ':') return undefined;
    try {
      key = JSON.parse(m[0]) as string;
    } catch {
      return undefined;
    }
    rest = text.slice(m[0].length + 1);
  } else if (text.startsWith("'")) {
    const m = /^'(?:[^']|'')*'/u.exec(text);
    if (!m || text[m[0].length] !== ':') return undefined;
    key = m[0].slice(1, -1).replace(/''/gu, "'");
    rest = text.slice(m[0].length + 1);
  } else {
    const m = /^(.+?):(?:\s+|$)(.*)$/u.exec(text);
    if (!m) return undefined;
    key = m[1]!;
    rest = m[2]!;
  }
  return [text.startsWith('"') || text.startsWith("'") ? key : key.trim(), rest];
}

export function parseYaml(text: string): YamlValue {
  const lines: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.includes('\t') && /^\s*\t/u.test(raw)) throw new YamlError(i + 1, 'tabs are not allowed for indentation');
    const body = stripComment(raw).trimEnd(); // not /\s+$/: quadratic on a long run of spaces
    if (!body.trim() || body.trim() === '---' || body.trim() === '...') return;
    lines.push({ no: i + 1, indent: body.length - body.trimStart().length, text: body.trim() });
  });
  let pos = 0;

  const block = (indent: number, depth: number): YamlValue => {
    const first = lines[pos];
    if (!first || first.indent < indent) return null;
    if (depth > YAML_MAX_DEPTH) throw new YamlError(first.no, `nested deeper than ${YAML_MAX_DEPTH} levels`);
    if (first.text.startsWith('- ') || first.text === '-') {
      const list: YamlValue[] = [];
      while (pos < lines.length && lines[pos]!.indent === first.indent && (lines[pos]!.text.startsWith('- ') || lines[pos]!.text === '-')) {
        const l = lines[pos++]!;
        const item = l.text.slice(1).trim();
        if (splitKey(item)) throw new YamlError(l.no, 'mappings inside lists are not supported in an inventory');
        list.push(scalar(item, l.no));
      }
      return list;
    }
    const map: YamlMap = new Map();
    const lineOf = new Map<string, number>();
    keyLines.set(map, lineOf);
    const at = first.indent;
    while (pos < lines.length) {
      const l = lines[pos]!;
      if (l.indent < at) break;
      if (l.indent > at) throw new YamlError(l.no, 'unexpected indentation');
      const kv = splitKey(l.text);
      if (!kv) throw new YamlError(l.no, `expected "key: value", found ${JSON.stringify(l.text.slice(0, 40))}`);
      pos++;
      const [key, rest] = kv;
      lineOf.set(key, l.no);
      if (rest.trim() === '') {
        const next = lines[pos];
        map.set(key, next && next.indent > at ? block(next.indent, depth + 1) : next && next.indent === at && next.text.startsWith('- ') ? block(at, depth + 1) : null);
      } else map.set(key, scalar(rest, l.no));
    }
    return map;
  };

  const value = block(0, 1);
  if (pos < lines.length) throw new YamlError(lines[pos]!.no, 'unexpected content');
  return value;
}
