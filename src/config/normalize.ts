/**
 * Normalization of raw OVF property strings: the forms vCenter, ESXi and guest tools hand over
 * are turned into one canonical form before validation. Pure functions, no I/O.
 */

/** Any C0 control character, DEL, or a C1 control character. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** The literal strings guest tools hand over for an unset value. */
const UNSET = new Set(['', 'null']);

/** Trims; `null` and blank mean unset (undefined). */
export function unsetToUndefined(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return UNSET.has(trimmed) ? undefined : trimmed;
}

/** The first control character in `value`, described for an error message, or undefined. */
export function findControlCharacter(value: string): string | undefined {
  const m = CONTROL.exec(value);
  if (!m) return undefined;
  const code = m[0].codePointAt(0)!;
  const names: Record<number, string> = { 0: 'NUL', 9: 'tab', 10: 'newline', 13: 'carriage return', 27: 'escape', 127: 'DEL' };
  return names[code] ?? `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** `True`/`true`/`1`/`yes` → true; `False`/`false`/`0`/`no` → false; anything else undefined. */
export function parseBoolean(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return undefined;
}

/** Splits a comma- and/or space-separated list, dropping empty items. */
export function splitList(value: string): string[] {
  return value.split(/[\s,;]+/u).filter((item) => item.length > 0);
}

/** A PEM boundary line; matched without backtracking, so scanning is linear in the value. */
const PEM_MARKER = /-----(BEGIN|END) ([A-Z0-9 ]{1,64})-----/gu;
const BASE64 = /^[A-Za-z0-9+/=\s]+$/u;

export interface PemScan {
  /** Each block in canonical PEM (body re-wrapped at 64 columns, ending in a newline). */
  blocks: { label: string; pem: string }[];
  /** Whether anything but whitespace lies outside the blocks (never echoed: it may be a key). */
  outside: boolean;
}

/**
 * Finds the PEM blocks of a value: every `-----BEGIN X-----` block gets its base64 body re-wrapped
 * at 64 columns, whatever whitespace (spaces from a vCenter paste, CRLF) it arrived with. A value
 * that is itself base64 of a PEM document is decoded first. Headers inside a block (`Proc-Type:`,
 * encrypted legacy keys) are kept in the output so that the caller can reject them with a clear
 * message. A block is a BEGIN line followed by the END line of the same label; any other marker
 * or text outside such pairs sets `outside`. Linear in the length of the value.
 */
export function scanPem(value: string): PemScan {
  let text = value.trim();
  if (!text.includes('-----BEGIN') && BASE64.test(text)) {
    const decoded = Buffer.from(text.replace(/\s+/gu, ''), 'base64').toString('utf8');
    if (decoded.includes('-----BEGIN')) text = decoded.trim();
  }
  const blocks: PemScan['blocks'] = [];
  let outside = false;
  let last = 0;
  const markers = [...text.matchAll(PEM_MARKER)];
  for (let i = 0; i < markers.length; i++) {
    const begin = markers[i]!;
    const end = markers[i + 1];
    if (begin[1] !== 'BEGIN' || !end || end[1] !== 'END' || end[2] !== begin[2]) {
      outside = true; // a marker outside a well-formed pair
      continue;
    }
    i++;
    if (text.slice(last, begin.index).trim() !== '') outside = true;
    last = end.index + end[0].length;
    const label = begin[2]!;
    let body = text.slice(begin.index + begin[0].length, end.index);
    const headers: string[] = [];
    // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") survive only when newlines did; keep them.
    const headerMatch = /^\s*((?:[A-Za-z-]+:[^\n]*\n)+)\s*\n/u.exec(body.replace(/\r/gu, ''));
    if (headerMatch) {
      headers.push(
        ...headerMatch[1]!
          .trim()
          .split('\n')
          .map((h) => h.trim()),
      );
      body = body.replace(/\r/gu, '').slice(headerMatch[0].length);
    }
    const b64 = body.replace(/\s+/gu, '');
    const lines = b64.match(/.{1,64}/gu) ?? [];
    const parts = [`-----BEGIN ${label}-----`, ...headers, ...(headers.length ? [''] : []), ...lines, `-----END ${label}-----`];
    blocks.push({ label, pem: `${parts.join('\n')}\n` });
  }
  if (text.slice(last).trim() !== '') outside = true;
  return { blocks, outside };
}

/** Canonical PEM of every block of `value` (see scanPem), or undefined when there is none. */
export function repairPem(value: string): string | undefined {
  const { blocks } = scanPem(value);
  return blocks.length ? blocks.map((b) => b.pem).join('') : undefined;
}
