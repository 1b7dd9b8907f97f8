/**
 * haproxy.cfg planning, pure: the Data Plane API's sections split and join back byte for byte, and
 * a rerun rewrites nothing it does not have to. (haproxy -c, OpenSSL and a running haproxy check
 * the same file in test/integration/haproxy/config.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateProperties } from '../../../src/config/validate.js';
import type { ApplianceConfig } from '../../../src/config/types.js';
import { haproxyModel, type HaproxyFacts } from '../../../src/plan/haproxy.js';
import { SECTION_KEYWORDS, mergeConfig, parseSections, type Section } from '../../../src/plan/haproxy-sections.js';
import { renderHaproxyCfg } from '../../../src/render/haproxy.js';
import { SEED_PROPERTIES, fixture } from '../../harness/ovf.js';

/** haproxy.cfg as planAppliance makes it: the model, rendered. */
const planHaproxyConfig = (config: ApplianceConfig, facts: HaproxyFacts) => renderHaproxyCfg(haproxyModel(config, facts));

const API_CFG = fixture('haproxy/api-sections.cfg');
const seed = (over: Record<string, string> = {}) => validateProperties({ ...SEED_PROPERTIES, ...over }).config!;

test('sections split and join back to the exact input', () => {
  const p = parseSections(API_CFG);
  assert.equal(p.preamble + p.sections.map((s) => s.text).join(''), API_CFG);
  assert.deepEqual(
    p.sections.map((s) => s.keyword),
    ['global', 'defaults', 'userlist', 'frontend', 'backend', 'backend', 'frontend', 'backend'],
  );
});

/**
 * The splitter as it was (a look at every line), kept here as the reference: parseSections finds
 * the header lines with one scan of the text (issue #12: 13 MB with 10,000 API pairs) and must
 * split every text exactly as this did.
 */
function parseSectionsByLine(text: string): ReturnType<typeof parseSections> {
  const keywords = SECTION_KEYWORDS;
  const header = (line: string) => {
    const m = /^\s*([a-z-]+)(?:\s+(\S+))?/u.exec(line);
    if (!m || !keywords.has(m[1]!)) return undefined;
    return { keyword: m[1]!, name: m[2] && !m[2].startsWith('#') ? m[2] : '' };
  };
  const lines = text.match(/[^\n]*\n|[^\n]+$/gu) ?? [];
  let preamble = '';
  const sections: Section[] = [];
  for (const line of lines) {
    const h = header(line);
    if (h) sections.push({ ...h, text: line });
    else if (sections.length) sections[sections.length - 1]!.text += line;
    else preamble += line;
  }
  return { preamble, sections };
}

test('parseSections splits any text exactly as a line-by-line look does', () => {
  const pieces = fc.constantFrom(
    'frontend',
    'backend',
    'global',
    'defaults',
    'userlist',
    'controller',
    'listen',
    'http-errors',
    'log-forward',
    'frontends',
    'global2',
    'mode tcp',
    ' ',
    '  ',
    '\t',
    '\n',
    '\r',
    '\r\n',
    '\u00a0',
    '\u2028',
    '#',
    '# c',
    '-',
    'x',
    'a.b:1',
    'bind 1.2.3.4:80',
    '\n\n',
  );
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 40 }), (parts) => {
      const text = parts.join('');
      assert.deepEqual(parseSections(text), parseSectionsByLine(text));
    }),
    { numRuns: 3000 },
  );
  assert.deepEqual(parseSections(API_CFG), parseSectionsByLine(API_CFG));
});

/** mergeConfig's joining as it was (`+=` and `endsWith` on the growing string), the reference. */
function joinByConcat(version: string | undefined, managed: string, kept: string[]): string {
  let out = version ? `${version.trimEnd()}\n` : '';
  out += managed.endsWith('\n') ? managed : `${managed}\n`;
  for (const text of kept) {
    if (!out.endsWith('\n\n')) out += '\n';
    out += text;
  }
  return out;
}

test('mergeConfig joins the kept sections exactly as appending them one by one did', () => {
  const pieces = fc.constantFrom('frontend a', 'backend b', 'userlist controller', 'global', 'defaults', '  mode tcp', '\n', '\n\n', ' ', '# _version=3', 'x');
  const managed = fc.constantFrom('global\n  master-worker\n', 'global\n', 'global\n\n', 'global\n  x\n\ndefaults\n  mode tcp');
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 40 }), managed, (parts, m) => {
      const existing = parts.join('');
      const merged = mergeConfig(existing, m);
      const old = parseSectionsByLine(existing);
      if (existing.trim() === '' || merged === existing) return;
      const version = /^# _version=\d+\s*$/mu.exec(old.preamble)?.[0];
      const kept = old.sections.filter(
        (s) => !(s.keyword === 'global' || (s.keyword === 'defaults' && s.name === '') || (s.keyword === 'userlist' && s.name === 'controller')),
      );
      assert.equal(
        merged,
        joinByConcat(
          version,
          m,
          kept.map((s) => s.text),
        ),
      );
    }),
    { numRuns: 3000 },
  );
});

test('an unchanged password keeps its hash, so a rerun rewrites nothing', () => {
  const first = planHaproxyConfig(seed(), { existingCfg: API_CFG, salt: 'firstsalt' });
  assert.match(first.content, /password \$6\$oldsaltoldsalt12\$/, 'the hash that verifies is reused');
  assert.equal(planHaproxyConfig(seed(), { existingCfg: first.content, salt: 'x' }).content, first.content);
});

test('managed sections the API re-serialized with other spacing are not rewritten', () => {
  const first = planHaproxyConfig(seed(), { salt: 'abc' }).content;
  const reserialized = first.replace(/^ {2}/gm, '    ').replace(/^(#.*\n)+/m, '# _version=3\n');
  assert.equal(mergeConfig(reserialized, planHaproxyConfig(seed(), { existingCfg: reserialized, salt: 'zzz' }).content), reserialized);
});
