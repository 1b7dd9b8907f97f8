/**
 * The agent's defaults file, /etc/default/haproxy-appliance: shell-style `NAME=value` lines that
 * systemd's EnvironmentFile= reads too (OVF_ENV=, NICS=). Parsed, never evaluated.
 */
import { readCurrent } from '../util/root.js';

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

/**
 * The variables of the defaults file at `path` (a host path); empty when there is none. Only a
 * regular file is read (a FIFO there would block forever): anything else is an error saying what
 * it is. Under --root, provision reads the root's file through the same reader, confined
 * (`readUnderRoot`), and parses it with `parseDefaultsFile`.
 */
export async function readDefaultsFile(path: string = AGENT_DEFAULTS_FILE): Promise<Map<string, string>> {
  const current = await readCurrent(path);
  return current ? parseDefaultsFile(current.content) : new Map();
}
