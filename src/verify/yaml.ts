/**
 * YAML for Ansible inventories, read by the `yaml` package (eemeli/yaml) as YAML 1.1, the
 * version Ansible's PyYAML reads: anchors and aliases, `<<` merge keys, flow collections,
 * block scalars (`|`, `>`), tags (an Ansible `!vault |` value is read as its text), comments and
 * `---`. Pure.
 *
 * What this module adds to the package:
 * - Mappings are `Map`s: a key is data, never a property name, so `__proto__`, `constructor` or
 *   `toString` are keys like any other. A plain key is kept as written (a host `010` stays
 *   `010`, not the number 8); a quoted key is its decoded text.
 * - Each key's line is kept for the inventory's errors (`yamlKeyLine`).
 * - Nesting is limited to YAML_MAX_DEPTH levels, checked on the parser's own stack while it
 *   reads (the package's composer recurses, so a deep document would otherwise exhaust the
 *   stack): an error naming the line, before anything deep is built.
 * - Aliases are limited by the package's `maxAliasCount` (an alias bomb is an error), and an
 *   aliased node is converted once and shared, never copied.
 * - Every error is a YamlError naming its line. Duplicate keys are allowed, the last one wins,
 *   as in Ansible.
 */
import { Composer, CST, isAlias, isMap, isScalar, isSeq, Lexer, LineCounter, Parser, visit, type Document, type Node, type ParsedNode } from 'yaml';

export type YamlMap = Map<string, YamlValue>;
export type YamlValue = string | number | boolean | null | YamlValue[] | YamlMap;

/**
 * Deepest nesting of mappings and lists. An Ansible inventory nests two levels per group
 * (`children:` and the group's name) plus two for hosts and their variables: 200 levels hold
 * groups nested 98 deep, far beyond the inventory's own group-depth limit.
 */
export const YAML_MAX_DEPTH = 200;

/** How many alias dereferences the package allows, weighted by what each alias holds (its default). */
export const YAML_MAX_ALIAS_COUNT = 100;

/**
 * Most values (scalars, aliases, flow collections) in one document. The package holds about
 * 1 kB of syntax tree per value while it reads; 10,000 hosts with a few variables each are
 * about 50,000 values, and the inventory lists at most 100,000 hosts. A larger file is refused
 * while it is read (with the line), before it can fill the memory.
 */
export const YAML_MAX_VALUES = 250_000;

const VALUE_TOKENS = new Set(['scalar', 'single-quoted-scalar', 'double-quoted-scalar', 'block-scalar-header', 'alias', 'flow-map-start', 'flow-seq-start']);

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

const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

/**
 * The CST of `text`, refusing (with the line) nesting deeper than YAML_MAX_DEPTH and more than
 * YAML_MAX_VALUES values as it is read.
 */
function tokens(text: string, lines: LineCounter, seen: { aliases: boolean }) {
  // Parser.next() does not report new lines (only parse() does): they are counted here.
  lines.addNewLine(0);
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
  const parser = new Parser();
  const out = [];
  let values = 0;
  for (const lexeme of new Lexer().lex(text)) {
    const type = CST.tokenType(lexeme) ?? '';
    if (type === 'alias') seen.aliases = true;
    if (VALUE_TOKENS.has(type) && ++values > YAML_MAX_VALUES) {
      throw new YamlError(
        lines.linePos(parser.offset).line,
        `more than ${YAML_MAX_VALUES} values; an inventory of 10000 hosts needs far fewer (split the inventory)`,
      );
    }
    for (const token of parser.next(lexeme)) out.push(token);
    // The stack holds the document, each open collection and at most a few other tokens.
    if (parser.stack.length > YAML_MAX_DEPTH) {
      const open = parser.stack.filter((t) => COLLECTIONS.has(t.type));
      if (open.length > YAML_MAX_DEPTH) {
        throw new YamlError(lines.linePos(open[YAML_MAX_DEPTH]!.offset).line, `nested deeper than ${YAML_MAX_DEPTH} levels`);
      }
    }
  }
  for (const token of parser.end()) out.push(token);
  return out;
}

const isMergeKey = (key: unknown) => isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';

export function parseYaml(text: string): YamlValue {
  const lines = new LineCounter();
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined) => lines.linePos(node?.range?.[0] ?? 0).line;
  const seen = { aliases: false };
  const docs: Document.Parsed[] = [...new Composer({ version: '1.1', uniqueKeys: false, prettyErrors: false }).compose(tokens(text, lines, seen))];
  if (docs.length === 0) return null;
  if (docs.length > 1) throw new YamlError(lineOf(docs[1]!.contents), 'more than one YAML document (an inventory is one)');
  const doc = docs[0]!;
  const err = doc.errors[0];
  if (err) throw new YamlError(lines.linePos(err.pos[0]).line, err.message.split('\n')[0]!);
  // Nodes already converted: an alias gets the very value of its anchor.
  const done = new Map<Node, YamlValue>();
  const convert = (node: ParsedNode | Node | null | undefined): YamlValue => {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) throw new YamlError(lineOf(node), `the alias *${node.source} has no anchor before it`);
      return convert(target);
    }
    const seen = done.get(node);
    if (seen !== undefined) return seen;
    if (isScalar(node)) {
      const v = node.value;
      const value: YamlValue =
        v === null || v === undefined ? null : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : scalarText(v);
      done.set(node, value);
      return value;
    }
    if (isSeq(node)) {
      const list: YamlValue[] = [];
      done.set(node, list);
      for (const item of node.items) list.push(convert(item as Node));
      return list;
    }
    if (isMap(node)) {
      const map: YamlMap = new Map();
      const at = new Map<string, number>();
      keyLines.set(map, at);
      done.set(node, map);
      for (const pair of node.items) {
        if (isMergeKey(pair.key)) {
          // `<<: *base` or `<<: [*a, *b]`: keys not set in this mapping, earlier sources first.
          const value = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
          const sources = isSeq(value) ? value.items : [value];
          for (const s of sources) {
            const from = convert(s as Node);
            if (!isYamlMap(from)) throw new YamlError(lineOf(pair.key as Node), 'a merge key (<<) takes a mapping or a list of mappings');
            for (const [k, v] of from) {
              if (at.has(k)) continue;
              map.set(k, v);
              at.set(k, yamlKeyLine(from, k) ?? lineOf(pair.key as Node));
            }
          }
          continue;
        }
        const keyNode = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
        if (!isScalar(keyNode))
          throw new YamlError(lineOf((pair.key ?? pair.value) as Node), 'a mapping key must be a plain or quoted string, not a collection');
        const key = keyNode.type === 'PLAIN' && keyNode.source !== undefined ? keyNode.source : scalarText(keyNode.value ?? '');
        map.set(key, convert(pair.value as Node));
        at.set(key, lineOf(pair.key as Node));
      }
      return map;
    }
    throw new YamlError(lineOf(node), 'unsupported YAML node');
  };
  const value = convert(doc.contents);
  // The package's alias-bomb guard: resolving the aliases once more, it throws past maxAliasCount.
  if (!seen.aliases) return value;
  try {
    doc.toJS({ maxAliasCount: YAML_MAX_ALIAS_COUNT, mapAsMap: true });
  } catch (e) {
    let alias: Node | undefined;
    visit(doc, { Alias: (_, node) => ((alias = node), visit.BREAK) });
    throw new YamlError(
      lineOf(alias ?? doc.contents),
      /alias/iu.test((e as Error).message)
        ? `aliases expand to too much (more than ${YAML_MAX_ALIAS_COUNT} nodes): ${(e as Error).message}`
        : (e as Error).message,
    );
  }
  return value;
}

/** A scalar the YAML 1.1 schema made into something else (a bigint, a timestamp), as text. */
function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return v.toString();
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v) ?? '';
}
