/**
 * Inventories that once blew up or were misread: `host:port` as Ansible writes it, names that are
 * Object.prototype's property names, ranges and group chains too large or too deep, and YAML
 * nested too deep. Every refusal is an InputError (exit 2) naming the file and the line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError, formatProblem } from '../../../src/errors.js';
import type { ProblemCode } from '../../../src/problems.js';
import { parseInventory } from '../../../src/verify/inventory.js';
import { parseYaml } from '../../../src/verify/yaml.js';

const show = (hosts: { name: string; host: string; port?: number; user?: string }[]) => hosts.map((h) => `${h.name}=${h.user ?? ''}@${h.host}:${h.port ?? ''}`);

/**
 * Asserts an InputError of one problem by rule `code`, whose `at: message` starts with `where`
 * (the file and line), as its headline does, and whose message matches `re`.
 */
function refused(f: () => unknown, where: string, re: RegExp, code: ProblemCode): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
    assert.ok(err.message.startsWith(where), `${JSON.stringify(err.message)} does not start with ${where}`);
    assert.deepEqual(
      err.problems.map((p) => [p.code, p.severity]),
      [[code, 'error']],
    );
    assert.ok(formatProblem(err.problems[0]).startsWith(where), `${JSON.stringify(err.problems[0].at)} is not ${where}`);
    assert.match(err.problems[0].message, re);
    return true;
  });
}

test("INI host:port, as Ansible: the port is the host's ansible_port; ansible_port written with the host wins; IPv6 only in brackets", () => {
  const text = `
[haproxy]
127.0.0.1:2222
lb1.lab:2200 ansible_port=2201
[::1]:2223
web[1:2].lab:2224 ansible_user=ops
fe80::1
[fd00::5]:22 ansible_host=fd00::6

[haproxy:vars]
ansible_port=9999

[other]
127.0.0.1:3333
plain
`;
  const inv = parseInventory(text, 'hosts.ini');
  assert.equal(inv.format, 'ini');
  assert.deepEqual(show(inv.hosts), [
    // A host:port is a host variable: it beats the group's ansible_port=9999.
    '127.0.0.1=@127.0.0.1:2222',
    'lb1.lab=@lb1.lab:2201',
    '::1=@::1:2223',
    'web1.lab=ops@web1.lab:2224',
    'web2.lab=ops@web2.lab:2224',
    // No port: a bare IPv6 address is not split at its last colon; the group's port applies.
    'fe80::1=@fe80::1:9999',
    'fd00::5=@fd00::6:22',
    'plain=@plain:',
  ]);
  refused(() => parseInventory('[g]\nh:0\n', 'p.ini'), 'p.ini:2', /"0" is not a port/u, 'not-port');
  refused(() => parseInventory('[g]\nh:70000\n', 'p.ini'), 'p.ini:2', /"70000" is not a port/u, 'not-port');
  refused(() => parseInventory('[g]\n[::1]\n', 'p.ini'), 'p.ini:2', /bad section header/u, 'inventory-syntax');
  refused(() => parseInventory('[g]\nlb1:ssh\n', 'p.ini'), 'p.ini:2', /"ssh" is not a port/u, 'not-port');
  refused(() => parseInventory('[g]\n[::1]:\n', 'p.ini'), 'p.ini:2', /"" is not a port/u, 'not-port');
  refused(() => parseInventory('all:\n  hosts:\n    lb1:x:\n', 'p.yml'), 'p.yml:3', /"x" is not a port/u, 'not-port');
});

test('YAML host:port keys, quoted IPv6 in brackets, and ansible_port under the host winning', () => {
  const text = `all:
  hosts:
    127.0.0.1:2222:
    "[::1]:2200":
      ansible_user: u
    lb:2300:
      ansible_port: 2301
  children:
    g:
      vars:
        ansible_port: 9999
      hosts:
        127.0.0.1:4444:
        other.lab:
`;
  assert.deepEqual(show(parseInventory(text, 'inv.yml').hosts), ['127.0.0.1=@127.0.0.1:2222', '::1=u@::1:2200', 'lb=@lb:2301', 'other.lab=@other.lab:9999']);
});

test('hosts and groups named __proto__, constructor, toString, hasOwnProperty are hosts and groups like any other', () => {
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
  const yaml = `all:
  hosts:
${names.map((n, i) => `    ${n}:\n      ansible_host: 10.0.0.${i + 1}`).join('\n')}
  children:
    __proto__:
      vars:
        ansible_user: protouser
      hosts:
        constructor:
    constructor:
      hosts:
        toString:
          __proto__: x
`;
  const inv = parseInventory(yaml, 'inv.yml');
  assert.deepEqual(show(inv.hosts), [
    '__proto__=@10.0.0.1:',
    'constructor=protouser@10.0.0.2:',
    'toString=@10.0.0.3:',
    'hasOwnProperty=@10.0.0.4:',
    'valueOf=@10.0.0.5:',
  ]);
  // The YAML parser's mappings hold such keys as data, and Object.prototype is untouched.
  const doc = parseYaml('__proto__:\n  polluted: yes\nconstructor: 1\n') as unknown as Map<string, unknown>;
  assert.ok(doc instanceof Map);
  assert.deepEqual([...doc.keys()], ['__proto__', 'constructor']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);

  const ini = `[__proto__]
__proto__ ansible_host=10.0.0.9 ansible_port=2222
toString

[__proto__:vars]
ansible_user=p

[constructor:children]
__proto__
`;
  assert.deepEqual(show(parseInventory(ini, 'inv.ini').hosts), ['__proto__=p@10.0.0.9:2222', 'toString=p@toString:']);
});

test('host ranges: the count is checked before expanding, with the file and line', () => {
  refused(
    () => parseInventory('[web]\nweb[0:999][0:999][0:99]\n', 'web.ini'),
    'web.ini:2',
    /web\[0:999\]\[0:999\]\[0:99\] makes 100000000 hosts/u,
    'too-many-hosts',
  );
  refused(() => parseInventory('all:\n  hosts:\n    web[0:99999999999]:\n', 'web.yml'), 'web.yml:3', /makes \d+ hosts/u, 'too-many-hosts');
  // Each range under the old per-range limit, the product over the distinct-host limit.
  refused(() => parseInventory('[web]\nweb[0:99][0:99][0:9]\n', 'web.ini'), 'web.ini:2', /more than 10000 hosts/u, 'too-many-hosts');
  // Over several lines: the line that passes the limit is named.
  refused(() => parseInventory('[a]\na[0:5999]\n[b]\nb[0:5999]\n', 'two.ini'), 'two.ini:4', /more than 10000 hosts/u, 'too-many-hosts');
  // Listing the same hosts again and again is capped too (100,000 listings).
  refused(
    () => parseInventory(`${Array.from({ length: 11 }, (_, i) => `[g${i}]\nh[0:9999]\n`).join('')}`, 'rep.ini'),
    'rep.ini:22',
    /makes 10000 hosts; an inventory may list at most 100000/u,
    'too-many-hosts',
  );
  refused(() => parseInventory('[g]\nh[1:5:0]\n', 's.ini'), 's.ini:2', /step 0/u, 'host-range-bad');
  refused(() => parseInventory('[g]\nh[5:1]\n', 's.ini'), 's.ini:2', /is empty/u, 'host-range-bad');
  // Exactly at the limit is fine.
  assert.equal(parseInventory('[g]\nlb[00000:09999]\n', 'ok.ini').hosts.length, 10_000);
});

test('a plain list of a million hosts is refused with the line, not a stack overflow', () => {
  const text = Array.from({ length: 1_000_000 }, (_, i) => `h${i}`).join('\n');
  refused(() => parseInventory(text, 'big.txt'), 'big.txt:100001', /more than 100000 hosts listed/u, 'too-many-hosts');
});

test('deep YAML is an error naming the line (no stack overflow)', () => {
  const n = 5000;
  const text = `all:\n${Array.from({ length: n }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')}\n`;
  refused(() => parseInventory(text, 'deep.yml'), 'deep.yml: line 201', /nested deeper than 200 levels/u, 'inventory-syntax');
});

test('deeply nested groups are an error naming the group and line: YAML, and an INI chain of children', () => {
  let yaml = 'all:\n';
  for (let i = 0; i < 60; i++) yaml += `${'  '.repeat(2 * i + 1)}children:\n${'  '.repeat(2 * i + 2)}g${i}:\n`;
  refused(() => parseInventory(yaml, 'groups.yml'), 'groups.yml:', /groups nest deeper than 50 levels \(group g49\)/u, 'groups-too-deep');
  const n = 5000;
  const ini = `[g0]\nh\n${Array.from({ length: n }, (_, i) => `[g${i + 1}:children]\ng${i}\n`).join('')}`;
  refused(() => parseInventory(ini, 'chain.ini'), 'chain.ini:', /groups nest deeper than 50 levels \(group g\d+\)/u, 'groups-too-deep');
  refused(() => parseInventory('[a:children]\nb\n[b:children]\na\n[a]\nh\n', 'loop.ini'), 'loop.ini:', /is its own ancestor/u, 'group-loop');
  // 50 levels are fine, and deeper groups win over their parents.
  let ok = '';
  for (let i = 0; i < 49; i++) ok += `[g${i + 1}:children]\ng${i}\n[g${i}:vars]\nansible_port=${1000 + i}\n`;
  assert.deepEqual(show(parseInventory(`[g0]\nh\n${ok}`, 'ok.ini').hosts), ['h=@h:1000']);
});
