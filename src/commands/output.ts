/** How commands speak: warnings and problems on stderr, one line each; JSON on stdout. */
import { formatProblem, type InputError } from '../errors.js';

export function printWarnings(warnings: string[]): void {
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
}

/** Prints an input error: its headline, then one line per problem (or one JSON document). */
export function printInputError(command: string, err: InputError, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: err.message, problems: err.problems, warnings: err.warnings }, null, 2)}\n`);
    return;
  }
  printWarnings(err.warnings);
  process.stderr.write(`haproxy-appliance ${command}: ${err.message}\n`);
  for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
}
