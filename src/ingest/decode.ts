/**
 * From the bytes a transport hands over to the document's text, strictly (XML 1.0 section 4.3.3
 * and appendix F): a byte order mark or the XML declaration's `encoding=` says how to decode, and a
 * byte that is not valid in that encoding is an error, never a replacement character (a Latin-1
 * `pässwörd` read as UTF-8 would set `p\ufffdssw\ufffdrd` and lock the admin out).
 *
 * Supported:
 * - UTF-8, with or without a byte order mark (the default when nothing is declared);
 * - US-ASCII (every byte below 0x80);
 * - ISO-8859-1 / Latin-1 in its ISO and IANA meaning: each byte is the code point of the same
 *   number. Not the WHATWG mapping (which decodes `iso-8859-1` as windows-1252): bytes 0x80-0x9F
 *   are C1 control characters, which single-line properties refuse, so a windows-1252 `€` fails
 *   validation instead of turning silently into another character;
 * - UTF-16 (LE or BE) with a byte order mark.
 * Any other declared encoding, UTF-16 without a byte order mark, or a declaration that contradicts
 * the byte order mark is refused (exit 2) with the encoding named.
 */
import { InputError } from '../errors.js';
import { problem, type ProblemCode } from '../problems.js';
import { MAX_DOCUMENT_BYTES, quote } from '../config/limits.js';

const UTF8_NAMES = new Set(['utf-8', 'utf8']);
const ASCII_NAMES = new Set(['us-ascii', 'ascii', 'iso646-us', 'ansi_x3.4-1968']);
const LATIN1_NAMES = new Set(['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'latin-1', 'l1', 'iso-ir-100', 'cp819', 'ibm819']);
const UTF16_NAMES = new Set(['utf-16', 'utf16', 'utf-16le', 'utf-16be']);

/** The property every decoding problem is filed under (for `--json`). */
export const DOCUMENT_PROPERTY = 'OVF environment';

function refuse(source: string, message: string, code: ProblemCode = 'bad-encoding'): never {
  throw new InputError(`${source}: ${message}`, [problem(DOCUMENT_PROPERTY, code, message)]);
}

/** `encoding="…"` of the XML declaration at the start of `head`, lower-cased, if any. */
function declaredEncoding(head: string): string | undefined {
  const decl = /^<\?xml\s[^>]*?\?>/u.exec(head);
  if (!decl) return undefined;
  return /\sencoding\s*=\s*(["'])([^"']*)\1/u.exec(decl[0])?.[2]?.toLowerCase();
}

/** The byte offset and value of the first byte that is not valid UTF-8, if any. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  // TextDecoder says only that decoding failed; find where, for the message.
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

/** The 1-based line of byte `at`. */
function lineOf(bytes: Buffer, at: number): number {
  let line = 1;
  for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** Decodes the document; throws InputError naming the encoding and where the first bad byte is. */
export function decodeDocument(input: Uint8Array, source: string): string {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    refuse(source, `the document is ${bytes.length} bytes; at most ${MAX_DOCUMENT_BYTES} (1 MiB) are accepted`, 'document-too-large');
  }

  let bom: 'utf-8' | 'utf-16le' | 'utf-16be' | undefined;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bom = 'utf-8';
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) bom = 'utf-16le';
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) bom = 'utf-16be';

  if (bom === 'utf-16le' || bom === 'utf-16be') {
    let text: string;
    try {
      text = new TextDecoder(bom, { fatal: true }).decode(bytes.subarray(2));
    } catch {
      refuse(source, `the document is not valid ${bom.toUpperCase()} (its byte order mark says it is)`);
    }
    const declared = declaredEncoding(text);
    if (declared !== undefined && !UTF16_NAMES.has(declared)) {
      refuse(source, `the XML declaration says encoding=${quote(declared)}, but the byte order mark says ${bom.toUpperCase()}`);
    }
    return text;
  }

  // Without a UTF-16 BOM the declaration is ASCII-compatible: read it as Latin-1 (1 byte, 1 char).
  const body = bom === 'utf-8' ? bytes.subarray(3) : bytes;
  if ((body[0] === 0x3c && body[1] === 0x00) || (body[0] === 0x00 && body[1] === 0x3c)) {
    refuse(source, 'the document looks like UTF-16 without a byte order mark; save it as UTF-8 (or UTF-16 with a byte order mark)');
  }
  const declared = declaredEncoding(body.toString('latin1', 0, Math.min(body.length, 512)));
  const encoding = declared ?? 'utf-8';
  if (bom === 'utf-8' && !UTF8_NAMES.has(encoding)) {
    refuse(source, `the XML declaration says encoding=${quote(encoding)}, but the byte order mark says UTF-8`);
  }

  if (UTF8_NAMES.has(encoding)) {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
    } catch {
      const at = firstInvalidUtf8(body);
      // Where, never which byte: it may be a character of a password.
      const where = at >= 0 ? `: an invalid byte at offset ${at + (bom ? 3 : 0)} (line ${lineOf(body, at)})` : '';
      refuse(
        source,
        `the document is not valid UTF-8${declared ? '' : ' (no encoding is declared, so it must be UTF-8)'}${where}; declare its encoding (<?xml version="1.0" encoding="ISO-8859-1"?>) or save it as UTF-8`,
      );
    }
  }
  if (ASCII_NAMES.has(encoding)) {
    const at = body.findIndex((b) => b >= 0x80);
    if (at >= 0) refuse(source, `the document declares encoding=${quote(declared!)} but the byte at offset ${at} (line ${lineOf(body, at)}) is not ASCII`);
    return body.toString('latin1');
  }
  if (LATIN1_NAMES.has(encoding)) return body.toString('latin1');
  if (UTF16_NAMES.has(encoding)) {
    refuse(source, `the document declares encoding=${quote(declared!)} but has no UTF-16 byte order mark; save it as UTF-8`);
  }
  return refuse(source, `the document's encoding ${quote(declared!)} is not supported; use UTF-8 (or US-ASCII, ISO-8859-1, UTF-16 with a byte order mark)`);
}
