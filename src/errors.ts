/**
 * The two kinds of failure the CLI maps to exit codes: bad input (2) and a failed check or
 * apply (1). Messages are meant for the admin as they are: no stack traces for input errors.
 */
import { formatProblem, problem, type Problem, type ProblemCode } from './problems.js';

export { formatProblem };

/** At least one: an InputError always says what was wrong, and where. */
export type Problems = readonly [Problem, ...Problem[]];

/**
 * Bad input, usage, or nothing to read: exit 2, nothing on the machine changed. It always
 * carries its problems (errors, each with `at` and `code`), so `--json` is never empty; warnings
 * found on the way travel with it.
 */
export class InputError extends Error {
  readonly problems: Problems;
  readonly warnings: Problem[];
  constructor(message: string, problems: Problems, warnings: Problem[] = []) {
    super(message);
    if (problems.length === 0) throw new TypeError('internal: an InputError needs at least one problem');
    this.name = 'InputError';
    this.problems = problems;
    this.warnings = warnings;
  }
}

/** An InputError of one problem; its headline (what the admin reads) is `at: message` unless given. */
export function inputError(at: string, code: ProblemCode, message: string, headline?: string): InputError {
  const p = problem(at, code, message);
  return new InputError(headline ?? formatProblem(p), [p]);
}

/** A list known to be non-empty (every problem list that ends in an InputError). */
export function nonEmpty(problems: Problem[]): Problems {
  if (problems.length === 0) throw new TypeError('internal: an InputError needs at least one problem');
  return problems as unknown as Problems;
}

/** A check or an apply step failed: exit 1. */
export class ApplyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApplyError';
  }
}

export const EXIT = { ok: 0, failed: 1, input: 2 } as const;
