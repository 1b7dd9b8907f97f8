/**
 * What makes the checks linear at 10,000 VIPs gives the answers the plain scans gave: the
 * listener index (`ListenerIndex.near`) against a filter over every listener, `cidrLookup`
 * against `inCidr` over every range; and the checks of 10,000 binds and listeners stay
 * one result per bind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ListenerIndex } from '../../../src/verify/checks/vips.js';
import { isWildcard, listensOn } from '../../../src/verify/parse/listeners.js';
import { cidrLookup, inCidr } from '../../../src/verify/routing.js';
import { splitSections } from '../../../src/verify/script.js';
import { parseBindAddress, parseBinds } from '../../../src/verify/parse/haproxy.js';
import { parseSections } from '../../../src/plan/haproxy-sections.js';
import type { HaproxyBind, Listener } from '../../../src/verify/types.js';

const octet = fc.integer({ min: 0, max: 3 });
const address = fc.oneof(
  fc.tuple(octet, octet).map(([a, b]) => `10.0.${a}.${b}`),
  fc.constantFrom(
    '0.0.0.0',
    '::',
    '::1',
    '127.0.0.1',
    '10.0.0.01',
    '10.0.0.256',
    'x',
    '10.0.0',
    '10.0.0.0.0',
    '.10.0.0',
    '10..0.0',
    '010.0.0.1',
    '10.0.0.1 ',
    '10.0.0.',
    '255.255.255.255',
    '10.0.0.1000',
  ),
);
const listener: fc.Arbitrary<Listener> = fc
  .record({
    address,
    port: fc.integer({ min: 80, max: 84 }),
    family: fc.constantFrom(4 as const, 6 as const),
    device: fc.option(fc.constantFrom('lo', 'workload'), { nil: undefined }),
    dualStack: fc.option(fc.boolean(), { nil: undefined }),
    processes: fc.constant([{ name: 'haproxy', pid: 1 }]),
  })
  .map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as unknown as Listener);

test('ListenerIndex.near finds what a filter over every listener finds, in the same order', () => {
  fc.assert(
    fc.property(fc.array(listener, { maxLength: 40 }), address, fc.integer({ min: 78, max: 86 }), fc.integer({ min: 0, max: 3 }), (ls, addr, port, span) => {
      const wildcard = addr === '0.0.0.0' || addr === '::';
      const match = (l: Listener) => (wildcard ? l.address === addr || isWildcard(l) : listensOn(l, addr));
      const want = ls.filter((l) => l.port >= port && l.port <= port + span && match(l));
      assert.deepEqual(new ListenerIndex(ls).near(addr, port, port + span, match), want);
    }),
    { numRuns: 2000 },
  );
  // A wide port range takes the plain scan.
  const ls: Listener[] = [{ address: '10.0.0.1', port: 5000, family: 4, processes: [] }];
  assert.deepEqual(
    new ListenerIndex(ls).near('10.0.0.1', 1, 65535, () => true),
    ls,
  );
});

test('cidrLookup answers as inCidr over the ranges, first range first', () => {
  const ranges = ['10.0.0.0/30', '10.0.0.0/24', '10.0.2.0/31', '10.0.3.3/32', 'default', 'bogus'];
  fc.assert(
    fc.property(fc.subarray(ranges), address, (rs, addr) => {
      assert.equal(
        cidrLookup(rs)(addr),
        rs.find((r) => inCidr(addr, r)),
      );
    }),
    { numRuns: 3000 },
  );
  assert.equal(cidrLookup(['192.168.0.0/24', '192.168.32.0/19'])('192.168.63.254'), '192.168.32.0/19');
  assert.equal(cidrLookup(['0.0.0.0/0'])('255.255.255.255'), '0.0.0.0/0');
});

/** splitSections as it was, line by line (the reference for the slicing one). */
function splitByLines(marker: string, stdout: string, stderr: string): Record<string, { rc?: number; stdout: string; stderr: string }> {
  const out: Record<string, { rc?: number; stdout: string; stderr: string }> = {};
  const startRe = new RegExp(`^${marker} (\\S+)$`, 'u');
  const endRe = new RegExp(`^${marker}-rc (\\S+) (\\d+)$`, 'u');
  let cur: string | undefined;
  let buf: string[] = [];
  const flush = (rc?: number) => {
    if (cur === undefined) return;
    let text = buf.join('\n');
    if (rc !== undefined && text.endsWith('\n')) text = text.slice(0, -1);
    const s = (out[cur] ??= { stdout: '', stderr: '' });
    s.stdout = text;
    if (rc !== undefined) s.rc = rc;
  };
  for (const line of stdout.split('\n')) {
    const start = startRe.exec(line);
    if (start) {
      flush();
      cur = start[1]!;
      buf = [];
      continue;
    }
    const end = endRe.exec(line);
    if (end && end[1] === cur) {
      flush(Number(end[2]));
      cur = undefined;
      buf = [];
      continue;
    }
    if (cur !== undefined) buf.push(line);
  }
  flush();
  let errCur: string | undefined;
  let errBuf: string[] = [];
  const flushErr = () => {
    if (errCur === undefined) return;
    const s = (out[errCur] ??= { stdout: '', stderr: '' });
    s.stderr = errBuf.join('\n').trim();
  };
  for (const line of stderr.split('\n')) {
    const start = startRe.exec(line);
    if (start) {
      flushErr();
      errCur = start[1]!;
      errBuf = [];
      continue;
    }
    if (errCur !== undefined) errBuf.push(line);
  }
  flushErr();
  return out;
}

test('splitSections slices the output as the line-by-line split did', () => {
  const M = '@@hpa-0123456789abcdef@@';
  const piece = fc.oneof(
    fc.constantFrom(`${M} a`, `${M} b`, `${M}-rc a 0`, `${M}-rc b 3`, `${M}-rc c 1`, `${M} `, `x${M} a`, `${M} a b`, `${M}-rc a`, ''),
    fc.string({ maxLength: 6 }),
  );
  const text = fc.array(fc.tuple(piece, fc.constantFrom('\n', '\n', '\n', '', '\r\n')), { maxLength: 14 }).map((xs) => xs.map(([a, b]) => a + b).join(''));
  fc.assert(
    fc.property(text, text, (out, err) => {
      assert.deepEqual(splitSections(M, out, err), splitByLines(M, out, err));
    }),
    { numRuns: 5000 },
  );
});

/** parseBinds as it was, over parseSections (the reference for the one-pass reader). */
function bindsBySections(cfg: string): HaproxyBind[] {
  const out: HaproxyBind[] = [];
  const parsed = parseSections(cfg);
  let lineNo = 1 + (parsed.preamble.match(/\n/gu)?.length ?? 0);
  for (const s of parsed.sections) {
    const lines = s.text.split('\n');
    if (s.keyword === 'frontend' || s.keyword === 'listen') {
      const disabled = lines.slice(1).some((l) => /^\s*disabled\s*(#.*)?$/u.test(l));
      lines.forEach((l, i) => {
        const m = /^\s*bind\s+(\S+)/u.exec(l.replace(/\s#.*$/u, ''));
        if (!m) return;
        for (const addr of m[1]!.split(',')) {
          out.push({ section: `${s.keyword} ${s.name}`, text: addr, line: lineNo + i, ...parseBindAddress(addr), ...(disabled && { disabled }) });
        }
      });
    }
    lineNo += lines.length - 1;
  }
  return out;
}

test('parseBinds reads the binds, their lines and sections as the section-by-section reader did', () => {
  const line = fc.constantFrom(
    '# _version=3',
    'global',
    'defaults',
    'defaults named',
    'frontend fe1',
    'frontend fe2 # c',
    '  listen',
    'listen li',
    'backend be',
    'userlist controller',
    '  bind 192.168.0.1:443 name x',
    'bind :80,:81',
    '  bind 10.0.0.1:80 # 1.2.3.4:9',
    '\tbind [::]:443',
    '  bind unix@/run/x.sock',
    '  bindx 1.2.3.4:5',
    '  disabled',
    '  disabled # off',
    '  mode tcp',
    '  server s 1.2.3.4:80',
    '',
    '  ',
  );
  const cfg = fc.array(fc.tuple(line, fc.constantFrom('\n', '\n', '\r\n')), { maxLength: 30 }).map((xs) => xs.map(([a, b]) => a + b).join(''));
  fc.assert(
    fc.property(cfg, fc.boolean(), (text, cut) => {
      const t = cut ? text.replace(/\n$/u, '') : text;
      assert.deepEqual(parseBinds(t), bindsBySections(t));
    }),
    { numRuns: 3000 },
  );
});
