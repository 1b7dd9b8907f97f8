/**
 * The agent's defaults file, /etc/default/haproxy-appliance: shell-style `NAME=value` lines that
 * systemd's EnvironmentFile= reads too (OVF_ENV=, NICS=). Parsed, never evaluated. Pure.
 */
import { readFile } from 'node:fs/promises';

export const AGENT_DEFAULTS_FILE = '/etc/default/haproxy-appliance';

/**
 * Reads `KEY=VALUE` lines of a shell-style defaults file (comments, blank lines, `export`, single
 * or double quotes). Returns the variables; never evaluates anything.
 */
export function parseDefaultsFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/u.exec(line);
    if (!m) continue;
    const quoted = /^(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(?:#.*)?$/u.exec(m[2]!.trim());
    const value = quoted ? (quoted[1]?.replace(/\\(.)/gu, '$1') ?? quoted[2]!) : m[2]!.replace(/(?:^|\s+)#.*$/u, '').trim();
    vars.set(m[1]!, value);
  }
  return vars;
}

/** The variables of the defaults file at `path`; empty when there is none. */
export async function readDefaultsFile(path: string = AGENT_DEFAULTS_FILE): Promise<Map<string, string>> {
  try {
    return parseDefaultsFile(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
}
