/**
 * What the support bundle removes, as pure functions on text. Texts are "binary strings" (each
 * byte one character, `latin1`), so a file that is not UTF-8 passes through byte for byte and a
 * secret is matched as the bytes it is written as (its UTF-8), whatever the file's encoding.
 *
 * Three layers (docs/operations.md, "Support bundle"):
 * 1. an allow-list of what is collected (src/support/collect.ts): private keys, the root
 *    password's crypt and /etc/shadow are never read;
 * 2. structural redaction of the files known to hold a secret: the userlist's password hashes
 *    and `stats auth` credentials in haproxy.cfg, any password/secret/token key of
 *    dataplaneapi.yaml, WireGuard keys in networkd files;
 * 3. a last pass over every member: every PEM private-key block is dropped (a block cut by a
 *    truncation too), and every known secret value (the current OVF environment's secret
 *    properties, read by the run, never printed) is replaced wherever it appears.
 */

/** What a removed value is replaced with. */
export const REMOVED = '[removed]';
/** What a dropped private-key block is replaced with (no "PRIVATE KEY" in it, so a grep for that finds none). */
export const KEY_REMOVED = '[private-key block removed]';

export interface Redacted {
  text: string;
  /** How many values or blocks were removed. */
  count: number;
}

/** Bytes (or a JavaScript string, taken as UTF-8) as a binary string. */
export function binary(data: Buffer | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('latin1');
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/gu;
const ORPHAN_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/u;

/**
 * Drops every PEM private-key block (`RSA`, `EC`, `ENCRYPTED`, `OPENSSH` … `PRIVATE KEY`): a whole
 * block; a block with no end (the text was cut after its start) up to the end of the text; and
 * an end with no start (the text was cut inside a block, keeping its tail) from the start of the
 * text.
 */
export function dropPrivateKeyBlocks(text: string): Redacted {
  let count = 0;
  let out = text.replace(BLOCK, () => {
    count++;
    return KEY_REMOVED;
  });
  for (let m = ORPHAN_END.exec(out); m; m = ORPHAN_END.exec(out)) {
    count++;
    out = KEY_REMOVED + out.slice(m.index + m[0].length);
  }
  return { text: out, count };
}

/**
 * haproxy.cfg: the hash (or clear password) of every `user NAME password|insecure-password X`
 * line (the userlist the Data Plane API logs in with, and any other), and the credentials of
 * `stats auth USER:PASSWORD`.
 */
export function redactHaproxyCfg(text: string): Redacted {
  let count = 0;
  const out = text
    .replace(/^([ \t]*user[ \t]+\S+(?:[ \t]+\S+)*?[ \t]+(?:password|insecure-password)[ \t]+)\S+/gmu, (_m, head: string) => {
      count++;
      return `${head}${REMOVED}`;
    })
    .replace(/^([ \t]*stats[ \t]+auth[ \t]+)\S+/gmu, (_m, head: string) => {
      count++;
      return `${head}${REMOVED}`;
    });
  return { text: out, count };
}

const SECRET_KEY = /password|passwd|secret|token|private_key/iu;

/**
 * dataplaneapi.yaml (and any YAML): the value of every key whose name says password, secret,
 * token or private key (`users: - name: x, password: y` of the API 2.9+), a block scalar's
 * lines too, and flow mappings' `password: y` pairs.
 */
export function redactYamlSecrets(text: string): Redacted {
  let count = 0;
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^(\s*(?:-\s+)?["']?([A-Za-z0-9_.-]+)["']?\s*:)(\s*)(.*)$/u.exec(line);
    if (m && SECRET_KEY.test(m[2]!) && m[4]!.trim() !== '') {
      count++;
      out.push(`${m[1]}${m[3] || ' '}${REMOVED}`);
      // A block scalar (`password: |`): its more-indented lines go too.
      if (/^[|>][-+0-9]*\s*(?:#.*)?$/u.test(m[4]!.trim())) {
        const indent = /^\s*/u.exec(line)![0].length;
        while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || /^\s*/u.exec(lines[i + 1]!)![0].length > indent)) i++;
      }
      continue;
    }
    // Flow style: `{ name: x, password: y }`.
    out.push(
      line.replace(/([{,]\s*["']?[A-Za-z0-9_.-]*(?:password|passwd|secret|token)[A-Za-z0-9_.-]*["']?\s*:\s*)([^,}]+)/giu, (_m, head: string) => {
        count++;
        return `${head}${REMOVED}`;
      }),
    );
  }
  return { text: out.join('\n'), count };
}

/** systemd-networkd files: WireGuard's `PrivateKey=` and `PresharedKey=` (the agent writes none; an admin's could). */
export function redactNetworkd(text: string): Redacted {
  let count = 0;
  const out = text.replace(/^(\s*(?:PrivateKey|PresharedKey)\s*=\s*)\S.*$/gmu, (_m, head: string) => {
    count++;
    return `${head}${REMOVED}`;
  });
  return { text: out, count };
}

/** A secret to scrub: the property it came from and its value as given. */
export interface SecretValue {
  property: string;
  value: string;
}

/** One string to find (a binary string) and what replaces it. */
export interface Needle {
  find: string;
  replace: string;
}

/** Needles shorter than this are not searched for (they would match ordinary text); no valid secret is this short. */
export const MIN_NEEDLE = 6;

/**
 * The forms a secret value can take in a file: as given, trimmed, JSON-escaped, and, for a
 * multi-line or PEM value (the CA key), each of its lines (a key's base64 lines are unique; a
 * copy wrapped or indented differently is still found line by line), also when the value was
 * given base64-encoded. Longest first, so a value is replaced whole before its parts are.
 */
export function secretNeedles(values: readonly SecretValue[]): { needles: Needle[]; skipped: string[] } {
  const found = new Map<string, string>();
  const skipped: string[] = [];
  for (const { property, value } of values) {
    if (value === '' || value === 'null') continue;
    const replace = `[secret ${property} removed]`;
    const forms = new Set<string>([value, value.trim(), JSON.stringify(value).slice(1, -1)]);
    const texts = [value];
    const compact = value.replace(/\s+/gu, '');
    if (/^[A-Za-z0-9+/=]{40,}$/u.test(compact)) {
      const decoded = Buffer.from(compact, 'base64').toString('utf8');
      if (decoded.includes('-----BEGIN')) texts.push(decoded);
    }
    for (const t of texts) {
      // PEM pasted with spaces for newlines: its base64 runs, however it is wrapped.
      for (const part of t.split(/[\s\\]+|\\n/u)) if (!part.startsWith('-----') && part.length >= 16 && /^[A-Za-z0-9+/=]+$/u.test(part)) forms.add(part);
      for (const line of t.split(/\r?\n/u)) if (line.trim().length >= MIN_NEEDLE && !/^-----(BEGIN|END) /u.test(line.trim())) forms.add(line.trim());
    }
    // Every 64-character run of a key's body, so a body re-wrapped at another width is still found.
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/u.test(texts.join('\n'))) {
      for (const t of texts) {
        const body = t
          .split(/\r?\n|\s+/u)
          .filter((l) => /^[A-Za-z0-9+/=]+$/u.test(l))
          .join('');
        for (let i = 0; i + 24 <= body.length; i += 24) forms.add(body.slice(i, i + 24));
      }
    }
    for (const f of forms) {
      if (f.length < MIN_NEEDLE) {
        if (f === value) skipped.push(property);
        continue;
      }
      if (!found.has(binary(f))) found.set(binary(f), replace);
    }
  }
  const needles = [...found].map(([find, replace]) => ({ find, replace })).sort((a, b) => b.find.length - a.find.length);
  return { needles, skipped };
}

/** Replaces every needle wherever it appears. */
export function scrubValues(text: string, needles: readonly Needle[]): Redacted {
  let count = 0;
  let out = text;
  for (const { find, replace } of needles) {
    if (!out.includes(find)) continue;
    const parts = out.split(find);
    count += parts.length - 1;
    out = parts.join(replace);
  }
  return { text: out, count };
}

/** The last pass every member goes through: private-key blocks, then the known secret values. */
export function lastPass(text: string, needles: readonly Needle[]): Redacted {
  const keys = dropPrivateKeyBlocks(text);
  const values = scrubValues(keys.text, needles);
  return { text: values.text, count: keys.count + values.count };
}

/**
 * The last `maxLines` lines of a text (whole lines), and whether it was cut. A text whose last
 * line has no newline counts it as a line.
 */
export function lastLines(text: string, maxLines: number): { text: string; cut: boolean; lines: number } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length <= maxLines) return { text, cut: false, lines: lines.length };
  return { text: `${lines.slice(-maxLines).join('\n')}\n`, cut: true, lines: lines.length };
}

/**
 * At most `max` bytes of a binary string, cut at a line boundary (so no value is cut in two):
 * the head (a configuration: its start) or the tail (a log: its end).
 */
export function capBytes(text: string, max: number, keep: 'head' | 'tail'): { text: string; cut: boolean } {
  if (text.length <= max) return { text, cut: false };
  if (keep === 'head') {
    const head = text.slice(0, max);
    const nl = head.lastIndexOf('\n');
    return { text: nl >= 0 ? head.slice(0, nl + 1) : '', cut: true };
  }
  const tail = text.slice(text.length - max);
  const nl = tail.indexOf('\n');
  return { text: nl >= 0 ? tail.slice(nl + 1) : '', cut: true };
}
