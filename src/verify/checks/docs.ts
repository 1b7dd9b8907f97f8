/**
 * The checks table of docs/verify.md, generated from the registry: the text between
 * `<!-- checks:begin -->` and `<!-- checks:end -->` is rewritten by `npm run docs`
 * (scripts/verify-docs.mjs), and a test fails when the committed file is stale. Pure.
 */
import { FAMILIES, type Family } from './check.js';
import { CHECKS } from './index.js';

export const CHECKS_BEGIN = '<!-- checks:begin -->';
export const CHECKS_END = '<!-- checks:end -->';

const cell = (s: string) => s.replace(/\|/gu, '\\|').replace(/\n/gu, ' ');

/** The generated region, markers included: one table per family, checks in report order. */
export function renderChecksTables(): string {
  const lines = [CHECKS_BEGIN, '<!-- Generated from src/verify/checks/ by `npm run docs`; do not edit by hand. -->'];
  for (const family of Object.keys(FAMILIES) as Family[]) {
    const checks = CHECKS.filter((c) => c.family === family);
    if (checks.length === 0) continue;
    lines.push('', `### ${FAMILIES[family]}`, '', '| id | subject | what passes | fails / warns when (examples of the message) |', '|---|---|---|---|');
    for (const c of checks) lines.push(`| \`${c.id}\` | ${cell(c.subject ?? '')} | ${cell(c.doc)} | ${cell(c.problems)} |`);
  }
  lines.push('', CHECKS_END);
  return lines.join('\n');
}

/** `markdown` (docs/verify.md) with its checks region replaced by the generated one. */
export function withChecksTables(markdown: string): string {
  const begin = markdown.indexOf(CHECKS_BEGIN);
  const end = markdown.indexOf(CHECKS_END);
  if (begin < 0 || end < begin) throw new Error(`docs/verify.md has no ${CHECKS_BEGIN} … ${CHECKS_END} region`);
  return markdown.slice(0, begin) + renderChecksTables() + markdown.slice(end + CHECKS_END.length);
}
