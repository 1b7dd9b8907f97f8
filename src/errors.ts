/**
 * The two kinds of failure the CLI maps to exit codes: bad input (2) and a failed check or
 * apply (1). Messages are meant for the admin as they are: no stack traces for input errors.
 */
import type { Problem } from './config/types.js';

/** Bad input, usage, or nothing to read: exit 2, nothing on the machine changed. */
export class InputError extends Error {
  readonly problems: Problem[];
  readonly warnings: string[];
  constructor(message: string, problems: Problem[] = [], warnings: string[] = []) {
    super(message);
    this.name = 'InputError';
    this.problems = problems;
    this.warnings = warnings;
  }
}

/** A check or an apply step failed: exit 1. */
export class ApplyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApplyError';
  }
}

export const EXIT = { ok: 0, failed: 1, input: 2 } as const;

/** `property: message`, the one-line form every problem is printed in. */
export function formatProblem(p: Problem): string {
  return `${p.property}: ${p.message}`;
}
