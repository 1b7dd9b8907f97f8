/**
 * OpenSSH public keys for `appliance.ssh_authorized_keys`: the value is split into keys, and each
 * is read as OpenSSH reads an authorized_keys line (`TYPE BASE64 [COMMENT]`), down to its blob:
 * the SSH wire format (RFC 4253 6.6, RFC 5656 3.1, RFC 8709 4, OpenSSH's PROTOCOL.u2f) is parsed,
 * its inner type must be the outer one, and the key itself is handed to node's crypto (as a JWK:
 * node reads no OpenSSH format), which refuses an EC point off its curve or a malformed RSA key.
 * Pure: no I/O.
 *
 * Nothing of a refused value is ever quoted but a key's number and its comment: a private key, or
 * part of one, pasted here is refused by what it is, never echoed.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { ProblemCode } from '../problems.js';

/** One accepted key, canonical. */
export interface AuthorizedKey {
  type: string;
  /** The base64 blob, as OpenSSH prints it. */
  blob: string;
  /** The comment (printable text, no comma), if any. */
  comment?: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** Key size in bits (RSA: the modulus; EC: the curve; Ed25519: 256). */
  bits: number;
}

/** The authorized_keys line of a key. */
export function keyLine(k: Pick<AuthorizedKey, 'type' | 'blob' | 'comment'>): string {
  return `${k.type} ${k.blob}${k.comment ? ` ${k.comment}` : ''}`;
}

/** `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -l -E sha256` prints. */
export function fingerprintOf(blob: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/u, '')}`;
}

/** The smallest RSA modulus accepted (NIST SP 800-131A; OpenSSH 9 refuses RSA under 1024, and ssh-keygen makes 3072). */
export const MIN_RSA_BITS = 2048;

const EC_CURVES: Record<string, { curve: string; jwk: string; bits: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', jwk: 'P-256', bits: 256 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', jwk: 'P-384', bits: 384 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', jwk: 'P-521', bits: 521 },
};

/** The key types taken, as `ssh -Q key` names them (certificates and DSA excepted). */
export const KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;
const KEY_TYPE_SET: ReadonlySet<string> = new Set(KEY_TYPES);

/** A refused key: its problem code and the reason (never quoting key material). */
export interface KeyRefusal {
  code: ProblemCode;
  reason: string;
}

/** Reads SSH wire-format fields (uint32 length, then bytes) from a blob. */
class Wire {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  bytes(): Buffer | undefined {
    if (this.at + 4 > this.buf.length) return undefined;
    const n = this.buf.readUInt32BE(this.at);
    if (this.at + 4 + n > this.buf.length) return undefined;
    const out = this.buf.subarray(this.at + 4, this.at + 4 + n);
    this.at += 4 + n;
    return out;
  }
  string(): string | undefined {
    const b = this.bytes();
    return b && /^[\x21-\x7e]*$/u.test(b.toString('latin1')) ? b.toString('latin1') : undefined;
  }
  get done(): boolean {
    return this.at === this.buf.length;
  }
}

/** Unsigned big-endian integer bytes (an SSH mpint) without leading zero bytes. */
function unsigned(mpint: Buffer): Buffer {
  let i = 0;
  while (i < mpint.length - 1 && mpint[i] === 0) i++;
  return mpint.subarray(i);
}

function bitLength(n: Buffer): number {
  const u = unsigned(n);
  if (u.length === 0 || (u.length === 1 && u[0] === 0)) return 0;
  return (u.length - 1) * 8 + (32 - Math.clz32(u[0]!));
}

const b64url = (b: Buffer) => b.toString('base64url');

/** Checks the blob's inside: the inner type, the fields of that type, the key itself. Bits, or a reason. */
function readBlob(type: string, blob: Buffer): number | string {
  const w = new Wire(blob);
  const inner = w.string();
  if (inner === undefined) return 'its base64 part is not an SSH public key blob';
  if (inner !== type) return `its base64 part holds a ${inner.slice(0, 40)} key, not the ${type} the line names (the line was edited, or two keys were mixed)`;
  try {
    if (type === 'ssh-ed25519' || type === 'sk-ssh-ed25519@openssh.com') {
      const pk = w.bytes();
      if (pk?.length !== 32) return 'its Ed25519 public key is not 32 bytes';
      if (type.startsWith('sk-') && w.string() === undefined) return 'its security-key application is missing';
      if (!w.done) return 'its blob has bytes after the key';
      createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' });
      return 256;
    }
    if (type === 'ssh-rsa') {
      const e = w.bytes();
      const n = w.bytes();
      if (!e || !n || !w.done) return 'its RSA blob is malformed';
      const bits = bitLength(n);
      if (bits < MIN_RSA_BITS)
        return `it is an RSA key of ${bits} bits; RSA keys must have at least ${MIN_RSA_BITS} bits (make an Ed25519 key: ssh-keygen -t ed25519)`;
      createPublicKey({ key: { kty: 'RSA', n: b64url(unsigned(n)), e: b64url(unsigned(e)) }, format: 'jwk' });
      return bits;
    }
    const ecType = type.startsWith('sk-') ? 'ecdsa-sha2-nistp256' : type;
    const ec = EC_CURVES[ecType];
    if (ec) {
      const curve = w.string();
      const q = w.bytes();
      if (curve !== ec.curve || !q) return `its ECDSA blob does not name the ${ec.curve} curve`;
      const size = Math.ceil(ec.bits / 8);
      if (q.length !== 1 + 2 * size || q[0] !== 4) return 'its ECDSA point is not an uncompressed point of its curve';
      if (type.startsWith('sk-') && w.string() === undefined) return 'its security-key application is missing';
      if (!w.done) return 'its blob has bytes after the key';
      createPublicKey({ key: { kty: 'EC', crv: ec.jwk, x: b64url(q.subarray(1, 1 + size)), y: b64url(q.subarray(1 + size)) }, format: 'jwk' });
      return ec.bits;
    }
  } catch {
    return 'its key is not a valid public key of its type (node:crypto refuses it)';
  }
  return `${type} is not a supported key type`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/u;

/** Whether a value holds (part of) a private key, in any format OpenSSH, OpenSSL or PuTTY write. */
export function looksPrivate(value: string): boolean {
  return /PRIVATE KEY|PuTTY-User-Key-File|b3BlbnNzaC1rZXktdjE/u.test(value);
}

/** Where keys end: a newline or a comma (a comment may hold neither). */
export const KEY_SEPARATOR = /[\n,]/u;

/**
 * Splits one entry (text between separators) into key texts at each `TYPE BASE64` pair: keys whose
 * newlines a UI turned into spaces are found again.
 */
function splitEntry(entry: string): string[][] {
  const words = entry.split(/[ \t]+/u).filter((w) => w.length > 0);
  const keys: string[][] = [];
  for (let i = 0; i < words.length; i++) {
    const starts = i === 0 || (KEY_TYPE_SET.has(words[i]!) && BASE64.test(words[i + 1] ?? '') && (words[i + 1]?.length ?? 0) >= 40);
    if (starts || keys.length === 0) keys.push([words[i]!]);
    else keys.at(-1)!.push(words[i]!);
  }
  return keys;
}

/**
 * Every key of the value, or the refusal of the first key that is not one (`n` counts keys from 1).
 * `maxKeys` is checked before any key is read.
 */
export function parseAuthorizedKeys(value: string, maxKeys: number): { keys: AuthorizedKey[] } | KeyRefusal {
  if (looksPrivate(value))
    return {
      code: 'ssh-private-key',
      reason:
        'holds a PRIVATE key; this property takes public keys only (the .pub file, one line like "ssh-ed25519 AAAA… you@host"). Nothing of the value is shown here; treat that private key as exposed and make a new one',
    };
  const words = value
    .split(KEY_SEPARATOR)
    .map((e) => e.replace(/\r$/u, '').trim())
    .filter((e) => e.length > 0)
    .flatMap(splitEntry);
  if (words.length > maxKeys) return { code: 'too-many-items', reason: `${words.length} keys given; at most ${maxKeys} are allowed` };
  const keys: AuthorizedKey[] = [];
  const seen = new Map<string, number>();
  for (const [i, w] of words.entries()) {
    const n = i + 1;
    const what = `key ${n}`;
    const [type, blob, ...rest] = w;
    const comment = rest.join(' ');
    const named = comment ? `${what} (${JSON.stringify(comment.slice(0, 64))})` : what;
    if (/[\u0000-\u001f\u007f-\u009f]/u.test(w.join(' ')))
      return { code: 'control-character', reason: `${what} contains a control character; give one key per line, or separate keys with commas` };
    if (!KEY_TYPE_SET.has(type!)) {
      if (/^(ssh-dss)$/u.test(type!))
        return { code: 'ssh-key-type', reason: `${what} is a DSA key (ssh-dss), which OpenSSH no longer accepts; use an Ed25519 key` };
      if (/-cert-v01@openssh\.com$/u.test(type!))
        return { code: 'ssh-key-type', reason: `${what} is an OpenSSH certificate; give the plain public key (the appliance trusts keys, not a user CA)` };
      if (/[="]/u.test(type!) || /^(no-|restrict|cert-authority|command|from|environment|permitopen|permitlisten|principals|tunnel|expiry-time)/u.test(type!))
        return {
          code: 'ssh-key-options',
          reason: `${what} starts with authorized_keys options (from=, command=, restrict, …), which this property does not take: give the bare key; keys that need options go in /root/.ssh/authorized_keys outside the agent's block`,
        };
      return {
        code: 'not-ssh-key',
        reason: `${what} is not an OpenSSH public key: a line must start with its type (${KEY_TYPES.join(', ')}), then its base64 part, then an optional comment`,
      };
    }
    if (blob === undefined || !BASE64.test(blob) || blob.length % 4 !== 0) return { code: 'ssh-key-base64', reason: `${named}: its second part is not base64` };
    const bytes = Buffer.from(blob, 'base64');
    if (bytes.toString('base64') !== blob) return { code: 'ssh-key-base64', reason: `${named}: its second part is not canonical base64` };
    const bits = readBlob(type!, bytes);
    if (typeof bits === 'string') return { code: bits.includes('bits;') ? 'ssh-key-weak' : 'ssh-key-blob', reason: `${named}: ${bits}` };
    const first = seen.get(blob);
    if (first !== undefined) return { code: 'listed-twice', reason: `${named} is key ${first} again` };
    seen.set(blob, n);
    keys.push({ type: type!, blob, ...(comment && { comment }), fingerprint: fingerprintOf(blob), bits });
  }
  return { keys };
}
