/** Host specs and inventories: a plain list, Ansible INI, Ansible YAML. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../../src/errors.js';
import { detectFormat, expandHostPattern, parseHostSpec, parseInventory } from '../../../src/verify/inventory.js';
import { parseYaml } from '../../../src/verify/yaml.js';

test('host specs', () => {
  assert.deepEqual(parseHostSpec('10.191.181.52'), { name: '10.191.181.52', host: '10.191.181.52' });
  assert.deepEqual(parseHostSpec('admin@lb1.lab:2222'), { name: 'admin@lb1.lab:2222', host: 'lb1.lab', port: 2222, user: 'admin' });
  assert.deepEqual(parseHostSpec('[fd01::1]:22'), { name: '[fd01::1]:22', host: 'fd01::1', port: 22 });
  assert.deepEqual(parseHostSpec('fd01::1'), { name: 'fd01::1', host: 'fd01::1' });
  assert.throws(
    () => parseHostSpec('h:99999'),
    (e: unknown) => e instanceof InputError && e.problems[0].at === 'HOST' && e.problems[0].code === 'not-port',
  );
  assert.throws(
    () => parseHostSpec('@h'),
    (e: unknown) => e instanceof InputError && e.problems[0].at === 'HOST' && e.problems[0].code === 'empty-user' && /empty user/u.test(e.message),
  );
  assert.throws(
    () => parseHostSpec('-oProxyCommand=x'),
    (e: unknown) => e instanceof InputError && e.problems[0].at === 'HOST' && e.problems[0].code === 'not-host' && /not a host/u.test(e.message),
  );
});

test('a plain host list', () => {
  const inv = parseInventory('# appliances\n10.191.181.52\nroot@10.191.181.53:2222  # second\n\nlb3.lab lb4.lab\n', 'hosts.txt');
  assert.equal(inv.format, 'list');
  assert.deepEqual(
    inv.hosts.map((h) => [h.host, h.port, h.user]),
    [
      ['10.191.181.52', undefined, undefined],
      ['10.191.181.53', 2222, 'root'],
      ['lb3.lab', undefined, undefined],
      ['lb4.lab', undefined, undefined],
    ],
  );
});

test('an Ansible INI inventory: groups, children, group vars, host vars, ranges', () => {
  const text = `
ungrouped.lab

[haproxy]
lb1 ansible_host=10.191.181.52 ansible_user=admin
lb[2:3].lab ansible_port=2222

[edge]
lb1
edge[a:b].lab

[haproxy:vars]
ansible_user=root
ansible_ssh_port=22

[all:vars]
ansible_user="ops"

[lbs:children]
haproxy
`;
  const inv = parseInventory(text, 'hosts.ini');
  assert.equal(inv.format, 'ini');
  assert.deepEqual(
    inv.hosts.map((h) => `${h.name}=${h.user ?? ''}@${h.host}:${h.port ?? ''}`),
    [
      'ungrouped.lab=ops@ungrouped.lab:',
      'lb1=admin@10.191.181.52:22',
      'lb2.lab=root@lb2.lab:2222',
      'lb3.lab=root@lb3.lab:2222',
      'edgea.lab=ops@edgea.lab:',
      'edgeb.lab=ops@edgeb.lab:',
    ],
  );
  assert.deepEqual(expandHostPattern('web[08:10].x', 'f'), ['web08.x', 'web09.x', 'web10.x']);
  assert.throws(
    () => parseInventory('[g]\nh1 ansible_port=http\n', 'bad.ini'),
    (e: unknown) =>
      e instanceof InputError &&
      e.problems[0].at === 'bad.ini: host h1' &&
      e.problems[0].code === 'not-port' &&
      /bad\.ini: host h1: "http" is not a port/u.test(e.message),
  );
});

test('an Ansible YAML inventory', () => {
  const text = `---
all:
  vars:
    ansible_user: ops
  hosts:
    jump.lab:
  children:
    haproxy:
      vars:
        ansible_user: root
      hosts:
        lb1:
          ansible_host: 10.191.181.52
        lb2:
          ansible_host: "10.191.181.53"
          ansible_port: 2222
        lb[3:4].lab: {}
    other:
      hosts:
        lb1:   # also here: one host, listed once
`;
  assert.equal(detectFormat(text, 'inventory'), 'yaml');
  const inv = parseInventory(text, 'inventory.yml');
  assert.equal(inv.format, 'yaml');
  assert.deepEqual(
    inv.hosts.map((h) => `${h.name}=${h.user}@${h.host}:${h.port ?? ''}`),
    ['jump.lab=ops@jump.lab:', 'lb1=root@10.191.181.52:', 'lb2=root@10.191.181.53:2222', 'lb3.lab=root@lb3.lab:', 'lb4.lab=root@lb4.lab:'],
  );
  assert.throws(
    () => parseInventory('all:\n  hosts:\n    - a\n    - b\n', 'x.yml'),
    (e: unknown) => e instanceof InputError && e.problems[0].code === 'inventory-shape' && /hosts of group all must be a mapping/u.test(e.message),
  );
  // Anchors are YAML (test/unit/verify/inventory-yaml.test.ts); bad YAML is refused with the line.
  assert.deepEqual(parseInventory('all:\n  hosts: &anchor\n', 'x.yml').hosts, []);
  assert.throws(() => parseInventory('all:\n  hosts:\n    a: 1\n   b: 2\n', 'x.yml'), /x\.yml: line 4: /u);
});

test('the YAML subset', () => {
  assert.deepEqual(
    parseYaml("a: 1\nb: 'it''s'\nc: \"x\\ty\"\nd: ~\ne:\n  - one\n  - 'two'\nf: yes # comment\ng: a#b\n"),
    new Map<string, unknown>([
      ['a', 1],
      ['b', "it's"],
      ['c', 'x\ty'],
      ['d', null],
      ['e', ['one', 'two']],
      ['f', true],
      ['g', 'a#b'],
    ]),
  );
  assert.throws(() => parseYaml('a:\n  b: 1\n c: 2\n'), /line 3/u);
});
