/**
 * How commands speak: warnings and problems on stderr, one line each (`at: message`); JSON on
 * stdout. With --json, an input error is one document:
 * `{ ok: false, error, problems: Problem[], warnings: Problem[] }` (src/problems.ts).
 */
import { formatProblem, type InputError } from '../errors.js';
import type { Problem } from '../problems.js';

/** Lines printed of one list (warnings, problems); the rest are counted in one more line. */
const MAX_LINES = 50;
/** Characters of one printed line: every echoed value is already cut short; this is the backstop. */
const MAX_LINE = 1000;

const line = (text: string) => (text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}… (${text.length} characters)` : text);

function printLines(lines: string[], prefix: string, what: string): void {
  for (const l of lines.slice(0, MAX_LINES)) process.stderr.write(`${prefix}${line(l)}\n`);
  if (lines.length > MAX_LINES) process.stderr.write(`${prefix}… and ${lines.length - MAX_LINES} more ${what}\n`);
}

export function printWarnings(warnings: readonly Problem[]): void {
  printLines(warnings.map(formatProblem), 'warning: ', 'warnings');
}

/** Prints an input error: its headline, then one line per problem (or one JSON document). */
export function printInputError(command: string, err: InputError, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: err.message, problems: err.problems, warnings: err.warnings }, null, 2)}\n`);
    return;
  }
  printWarnings(err.warnings);
  process.stderr.write(`haproxy-appliance ${command}: ${line(err.message)}\n`);
  // A single problem the headline already says (an unreadable document) is not said twice.
  const only = err.problems.length === 1 ? err.problems[0] : undefined;
  if (only && err.message.endsWith(only.message)) return;
  printLines(err.problems.map(formatProblem), '', 'problems');
}
