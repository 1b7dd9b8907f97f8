/** What a command is: its options, its help, and the function that runs it with the parsed values. */
import type { ParseArgsConfig } from 'node:util';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  summary: string;
  usage: string;
  options: Options;
  allowPositionals?: boolean;
  run(values: Values, positionals: string[]): Promise<number>;
}
