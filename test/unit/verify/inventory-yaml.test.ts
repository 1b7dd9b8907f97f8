/**
 * YAML inventories as Ansible writes them, read by the `yaml` package: anchors, aliases and merge
 * keys, flow collections, block scalars, tags (`!vault`), comments and document markers — each of
 * which the hand-written subset parser this replaced refused — and hostile YAML (deep nesting,
 * alias bombs, too many values, several documents): an InputError naming the file and the line,
 * never a stack overflow.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../../src/errors.js';
import { parseInventory } from '../../../src/verify/inventory.js';
import { parseYaml, YAML_MAX_DEPTH, YAML_MAX_VALUES } from '../../../src/verify/yaml.js';

const show = (hosts: { name: string; host: string; port?: number; user?: string }[]) => hosts.map((h) => `${h.name}=${h.user ?? ''}@${h.host}:${h.port ?? ''}`);

/** Asserts an InputError whose message starts with `where` and matches `re`. */
function refused(f: () => unknown, where: string, re: RegExp): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
    assert.ok(err.message.startsWith(where), `${JSON.stringify(err.message)} does not start with ${where}`);
    assert.match(err.message, re);
    return true;
  });
}

test('anchors, aliases and merge keys: shared connection variables, host variables winning', () => {
  const text = `---
# Defaults shared by every load balancer.
x-defaults: &defaults
  ansible_user: ops
  ansible_port: 2222
all:
  children:
    haproxy:
      hosts:
        lb1:
          <<: *defaults
          ansible_host: 10.191.181.52
        lb2:
          <<: *defaults
          ansible_port: 22   # an explicit key wins over the merged one, before or after it
          ansible_host: 10.191.181.53
        lb3:
          <<: [*defaults, {ansible_user: other, ansible_host: 10.0.0.3}]
    mirror:
      hosts: &mirrored
        lb4:
          ansible_host: 10.0.0.4
    again:
      hosts: *mirrored
...
`;
  // x-defaults is a group without hosts (Ansible reads it so too): it adds no host.
  assert.deepEqual(show(parseInventory(text, 'inv.yml').hosts), [
    'lb1=ops@10.191.181.52:2222',
    'lb2=ops@10.191.181.53:22',
    'lb3=ops@10.0.0.3:2222',
    'lb4=@10.0.0.4:',
  ]);
});

test('flow collections: hosts and variables written inline', () => {
  const text = `all:
  vars: {ansible_user: root}
  hosts:
    lb1: {ansible_host: 10.0.0.1, ansible_port: 2200}
    lb2: {}
    lb3:
      ansible_host: "10.0.0.3"
      dns_servers: [10.0.0.53, 10.0.1.53]
  children: {web: {hosts: {web1: {ansible_user: w}}}}
`;
  assert.deepEqual(show(parseInventory(text, 'flow.yml').hosts), ['lb1=root@10.0.0.1:2200', 'lb2=root@lb2:', 'lb3=root@10.0.0.3:', 'web1=w@web1:']);
  assert.deepEqual(
    parseYaml('a: [x, "y", 3]\nb: {c: [1, {d: e}]}\n'),
    new Map<string, unknown>([
      ['a', ['x', 'y', 3]],
      ['b', new Map<string, unknown>([['c', [1, new Map([['d', 'e']])]]])],
    ]),
  );
});

test('block scalars, tags and Ansible Vault values: other variables may be anything', () => {
  const text = `all:
  hosts:
    lb1:
      ansible_host: 10.0.0.1
      motd: |
        Load balancer one.
        Ask #ops before changing it.
      notes: >-
        folded
        text
      ansible_become_password: !vault |
        $ANSIBLE_VAULT;1.1;AES256
        62313365396662343061393464336163383764373764613633653634306231386433626436623361
      ansible_user: !!str admin
`;
  assert.deepEqual(show(parseInventory(text, 'vars.yml').hosts), ['lb1=admin@10.0.0.1:']);
  const doc = parseYaml(text) as Map<string, Map<string, Map<string, Map<string, unknown>>>>;
  const lb1 = doc.get('all')!.get('hosts')!.get('lb1')!;
  assert.equal(lb1.get('motd'), 'Load balancer one.\nAsk #ops before changing it.\n');
  assert.equal(lb1.get('notes'), 'folded text');
  assert.match(String(lb1.get('ansible_become_password')), /^\$ANSIBLE_VAULT;1\.1;AES256\n6231/u);
});

test('keys are names as written, errors keep their lines, the last of duplicate keys wins', () => {
  const text = `all:
  hosts:
    010:
    yes:
    "lb\\u0041.lab":
    lb:
      ansible_port: 1
    lb:
      ansible_port: 2
`;
  assert.deepEqual(show(parseInventory(text, 'k.yml').hosts), ['010=@010:', 'yes=@yes:', 'lbA.lab=@lbA.lab:', 'lb=@lb:2']);
  // Values are YAML 1.1, as Ansible (PyYAML) reads them.
  assert.deepEqual(
    parseYaml('a: yes\nb: 0x10\nc: ~\nd: 1.5\n'),
    new Map<string, unknown>([
      ['a', true],
      ['b', 16],
      ['c', null],
      ['d', 1.5],
    ]),
  );
  refused(() => parseInventory('all:\n  hosts:\n    lb1:\n      ansible_port: http\n', 'p.yml'), 'p.yml: host lb1:', /"http" is not a port/u);
  refused(() => parseInventory('all:\n  hosts:\n    a: 1\n   b: 2\n', 'bad.yml'), 'bad.yml: line 4', /./u);
  refused(() => parseInventory('all:\n  hosts: {a: 1\n', 'open.yml'), 'open.yml: line ', /flow map/iu);
  refused(() => parseInventory('all:\n  hosts:\n    a: *nothing\n', 'alias.yml'), 'alias.yml: line 3', /alias \*nothing has no anchor/u);
  refused(() => parseInventory('all:\n  hosts:\n    ? [a, b]\n    : x\n', 'key.yml'), 'key.yml: line 3', /key must be a plain or quoted string/u);
  refused(() => parseInventory('all:\n  hosts:\n    a:\n---\nall:\n  hosts:\n    b:\n', 'two.yml'), 'two.yml: line 5', /more than one YAML document/u);
});

test('100,000-deep flow sequences and mappings are refused with the line, no stack overflow', () => {
  const n = 100_000;
  for (const [name, text, line] of [
    ['seq.yml', `all: ${'['.repeat(n)}${']'.repeat(n)}\n`, 1],
    ['map.yml', `all:\n  hosts: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`, 2],
    ['open.yml', `all:\n  vars:\n    x: ${'['.repeat(n)}\n`, 3],
    ['items.yml', `all:\n  hosts:\n${'- '.repeat(n)}x\n`, 3],
  ] as const) {
    refused(() => parseInventory(text, name), `${name}: line ${line}:`, new RegExp(`nested deeper than ${YAML_MAX_DEPTH} levels`, 'u'));
  }
  // At the limit is fine.
  const ok = `all:\n  vars:\n    x: ${'['.repeat(YAML_MAX_DEPTH - 3)}${']'.repeat(YAML_MAX_DEPTH - 3)}\n  hosts:\n    h:\n`;
  assert.deepEqual(show(parseInventory(ok, 'ok.yml').hosts), ['h=@h:']);
});

test("an alias bomb is refused by the package's alias limit, with the line of an alias", () => {
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++)
    levels.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(', ')}]`,
    );
  const text = `${levels.join('\n')}\nall:\n  hosts:\n    h:\n`;
  refused(() => parseInventory(text, 'bomb.yml'), 'bomb.yml: line 2:', /aliases expand to too much/u);
  // A few aliases of a large node are fine (each is shared, not copied).
  const shared = `big: &big {${Array.from({ length: 500 }, (_, i) => `k${i}: ${i}`).join(', ')}}\nall:\n  vars: *big\n  hosts:\n    h: *big\n`;
  assert.deepEqual(show(parseInventory(shared, 'shared.yml').hosts), ['h=@h:']);
});

test('more values than an inventory can need are refused while reading, with the line', () => {
  const hosts = Math.ceil(YAML_MAX_VALUES / 2) + 1;
  const text = `all:\n  hosts:\n${Array.from({ length: hosts }, (_, i) => `    h${i}: {ansible_port: 22}\n`).join('')}`;
  // Each line holds a key, a flow mapping, a key and a value: four values.
  refused(
    () => parseInventory(text, 'many.yml'),
    `many.yml: line ${2 + Math.ceil(YAML_MAX_VALUES / 4)}:`,
    new RegExp(`more than ${YAML_MAX_VALUES} values`, 'u'),
  );
});
