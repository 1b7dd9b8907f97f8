/**
 * The deployment examples of docs/ova.md ("Deploying") stay deployable: every govc spec.json and
 * every ovftool command in that section is read out of the file, checked against the descriptor
 * the OVA carries (the deployment option ids, the property keys, the network names) and run
 * through the agent's own parser and validation, in the OVF environment vCenter would build (with
 * the NICs' adapters) and in the one govc's InjectOvfEnv writes (without). A doc example the
 * appliance would refuse, or one naming a key that does not exist, fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DOMParser } from '@xmldom/xmldom';
import { renderOvfDescriptor } from '../../../src/config/descriptor.js';
import { validateEnvironment } from '../../../src/config/validate.js';
import { parseOvfEnvironment } from '../../../src/ingest/ovf-env.js';
import { NETWORKS } from '../../../src/ova/envelope.js';
import { ROOT, SEED_MACS, ovfEnv } from '../../harness/ovf.js';

const OVF = 'http://schemas.dmtf.org/ovf/envelope/1';
const DOC = readFileSync(`${ROOT}docs/ova.md`, 'utf8');

/** The text of `## title`, up to the next `## ` heading. */
function section(title: string): string {
  const start = DOC.indexOf(`\n## ${title}\n`);
  assert.notEqual(start, -1, `docs/ova.md has a "## ${title}" section`);
  const end = DOC.indexOf('\n## ', start + 1);
  return DOC.slice(start, end === -1 ? undefined : end);
}
const DEPLOYING = section('Deploying');
const blocks = (lang: string) => [...DEPLOYING.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gmu)].filter((m) => m[1] === lang).map((m) => m[2]!);

// What the OVA declares: `haproxy-appliance ovf-descriptor` prints renderOvfDescriptor's text.
interface Declared {
  key: string;
  type: string;
  value: string;
  userConfigurable: boolean;
  /** The configurations the property belongs to; undefined: all. */
  configurations?: string[];
}
const descriptor = new DOMParser().parseFromString(renderOvfDescriptor('0.0.0'), 'text/xml') as unknown as Document;
const CONFIGURATIONS = Array.from(descriptor.getElementsByTagNameNS(OVF, 'Configuration')).map((c) => ({
  id: c.getAttributeNS(OVF, 'id'),
  label: c.getElementsByTagNameNS(OVF, 'Label')[0]?.textContent,
}));
const DECLARED = new Map<string, Declared>(
  Array.from(descriptor.getElementsByTagNameNS(OVF, 'ProductSection')).flatMap((s) =>
    Array.from(s.getElementsByTagNameNS(OVF, 'Property')).map((p): [string, Declared] => {
      const key = `${s.getAttributeNS(OVF, 'class')}.${p.getAttributeNS(OVF, 'key')}`;
      const c = p.getAttributeNS(OVF, 'configuration');
      return [
        key,
        {
          key,
          type: p.getAttributeNS(OVF, 'type') ?? '',
          value: p.getAttributeNS(OVF, 'value') ?? '',
          userConfigurable: p.getAttributeNS(OVF, 'userConfigurable') === 'true',
          ...(c && { configurations: c.split(/\s+/u) }),
        },
      ];
    }),
  ),
);
const NICS: Record<string, string[]> = { default: ['Management', 'Workload'], frontend: ['Management', 'Workload', 'Frontend'] };
const inConfiguration = (d: Declared, config: string) => !d.configurations || d.configurations.includes(config);

test('the descriptor declares what this test expects to read (a guard against a parse that finds nothing)', () => {
  assert.deepEqual(
    CONFIGURATIONS.map((c) => c.id),
    ['default', 'frontend'],
  );
  assert.ok(DECLARED.size >= 18, `${DECLARED.size} properties`);
  assert.deepEqual(Object.keys(NICS), ['default', 'frontend']);
  assert.deepEqual(
    NETWORKS.map((n) => n.name),
    NICS.frontend,
  );
});

test('the deployment options table names the descriptor ids and labels', () => {
  for (const c of CONFIGURATIONS) {
    const row = new RegExp(`^\\| \`${c.id}\` \\| ${c.label} \\| ${NICS[c.id!]!.join(', ')} \\|`, 'mu');
    assert.match(DEPLOYING, row, `a row for ${c.id}`);
  }
});

/** The OVF environment vCenter hands over (ISO or guestinfo): the properties and one adapter per NIC. */
function vcenterEnvironment(properties: Record<string, string>, config: string): string {
  const macs = [SEED_MACS.management, SEED_MACS.workload, SEED_MACS.frontend].slice(0, NICS[config]!.length);
  return ovfEnv(
    properties,
    macs.map((mac) => ({ mac })),
  );
}

/**
 * The document govc's InjectOvfEnv writes into guestinfo.ovfEnv (govmomi ovf/env.go, Env.MarshalManual):
 * no adapters, and each key and value put into its attribute as it is, without XML escaping.
 */
function injectedEnvironment(properties: Record<string, string>): string {
  const props = Object.entries(properties).map(([k, v]) => `<Property oe:key="${k}" oe:value="${v}"/>`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<Environment
\t\txmlns="http://schemas.dmtf.org/ovf/environment/1"
\t\txmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
\t\txmlns:oe="http://schemas.dmtf.org/ovf/environment/1"
\t\txmlns:ve="http://www.vmware.com/schema/ovfenv"
\t\toe:id=""
\t\tve:esxId="vm-42"><PlatformSection>
\t\t<Kind>VMware ESXi</Kind>
\t\t<Version>8.0.2</Version>
\t\t<Vendor>VMware, Inc.</Vendor>
\t\t<Locale>US</Locale>
\t\t</PlatformSection><PropertySection>${props.join('')}</PropertySection></Environment>`;
}

/** Parses and validates as the agent does; the deployment it finds, and no warning. */
function assertValid(xml: string, config: string, what: string): void {
  const env = parseOvfEnvironment(xml, what);
  let result;
  try {
    result = validateEnvironment(env);
  } catch (e) {
    const problems = (e as { problems?: { at: string; message: string }[] }).problems ?? [];
    assert.fail(`${what}: refused: ${problems.map((p) => `${p.at}: ${p.message}`).join('; ') || String(e)}`);
  }
  assert.equal(result.config.deployment, config, `${what}: the agent finds the ${config} deployment`);
  assert.deepEqual(
    result.warnings.map((w) => `${w.at}: ${w.message}`),
    [],
    `${what}: no warnings`,
  );
}

function checkBooleans(properties: Record<string, string>, what: string): void {
  for (const [key, value] of Object.entries(properties))
    if (DECLARED.get(key)?.type === 'boolean') assert.match(value, /^(True|False)$/u, `${what}: ${key} is True or False, the form vSphere takes`);
}

// govc import.spec's document (govmomi govc/importx/options.go, Options; spec.go's choices).
const GOVC_FIELDS = [
  'Deployment',
  'DiskProvisioning',
  'IPAllocationPolicy',
  'IPProtocol',
  'PropertyMapping',
  'NetworkMapping',
  'Annotation',
  'MarkAsTemplate',
  'PowerOn',
  'InjectOvfEnv',
  'WaitForIP',
  'Name',
];
const DISK_PROVISIONING = [
  'flat',
  'monolithicSparse',
  'monolithicFlat',
  'twoGbMaxExtentSparse',
  'twoGbMaxExtentFlat',
  'thin',
  'thick',
  'seSparse',
  'eagerZeroedThick',
  'sparse',
];

interface GovcSpec {
  Deployment: string;
  DiskProvisioning: string;
  IPAllocationPolicy: string;
  IPProtocol: string;
  PropertyMapping: { Key: string; Value: string }[];
  NetworkMapping: { Name: string; Network: string }[];
  Annotation?: string;
  MarkAsTemplate: boolean;
  PowerOn: boolean;
  InjectOvfEnv: boolean;
  WaitForIP: boolean;
  Name: string | null;
}

const SPECS = blocks('json').map((text) => JSON.parse(text) as GovcSpec);

test('docs/ova.md has a govc spec.json for each deployment option', () => {
  assert.deepEqual(SPECS.map((s) => s.Deployment).sort(), CONFIGURATIONS.map((c) => c.id).sort());
});

for (const spec of SPECS) {
  const what = `the govc spec.json for ${spec.Deployment}`;
  test(`${what}: the shape govc import.spec writes, with every key the descriptor declares`, () => {
    assert.deepEqual(
      Object.keys(spec).filter((k) => !GOVC_FIELDS.includes(k)),
      [],
      'only govc fields',
    );
    assert.deepEqual(
      GOVC_FIELDS.filter((k) => k !== 'Annotation' && !(k in spec)),
      [],
      'every govc field but the optional Annotation',
    );
    assert.ok(DISK_PROVISIONING.includes(spec.DiskProvisioning), spec.DiskProvisioning);
    assert.ok(['dhcpPolicy', 'transientPolicy', 'fixedPolicy', 'fixedAllocatedPolicy'].includes(spec.IPAllocationPolicy), spec.IPAllocationPolicy);
    assert.ok(['IPv4', 'IPv6'].includes(spec.IPProtocol), spec.IPProtocol);
    for (const k of ['MarkAsTemplate', 'PowerOn', 'InjectOvfEnv', 'WaitForIP'] as const) assert.equal(typeof spec[k], 'boolean', k);
    assert.ok(spec.Name === null || typeof spec.Name === 'string');
    if (spec.Annotation !== undefined) assert.match(spec.Annotation, /^HAProxy load balancer for vSphere with Tanzu, haproxy-appliance \S+$/u);

    for (const p of spec.PropertyMapping) assert.deepEqual(Object.keys(p).sort(), ['Key', 'Value'], JSON.stringify(p));
    const keys = spec.PropertyMapping.map((p) => p.Key);
    assert.equal(new Set(keys).size, keys.length, 'no key twice');
    const configurable = [...DECLARED.values()].filter((d) => d.userConfigurable).map((d) => d.key);
    assert.deepEqual([...keys].sort(), configurable.sort(), 'exactly the user-configurable properties, as govc lists them');
    const properties = Object.fromEntries(spec.PropertyMapping.map((p) => [p.Key, p.Value]));
    checkBooleans(properties, what);
    for (const d of DECLARED.values())
      if (!inConfiguration(d, spec.Deployment)) assert.equal(properties[d.key], '', `${d.key} belongs to ${d.configurations!.join(', ')} only: empty here`);

    assert.deepEqual(
      spec.NetworkMapping.map((n) => n.Name),
      NETWORKS.map((n) => n.name),
      'every network of the descriptor, in its order',
    );
    for (const n of spec.NetworkMapping) {
      if (NICS[spec.Deployment]!.includes(n.Name)) assert.notEqual(n.Network, '', `${n.Name} carries a NIC: mapped to a port group`);
      else assert.equal(n.Network, '', `${n.Name} carries no NIC in ${spec.Deployment}: left empty (govc skips it)`);
    }
  });

  test(`${what}: the agent accepts its properties, from vCenter and from govc's InjectOvfEnv`, () => {
    const properties = Object.fromEntries(spec.PropertyMapping.map((p) => [p.Key, p.Value]));
    assertValid(vcenterEnvironment(properties, spec.Deployment), spec.Deployment, `${what} (vCenter)`);
    for (const [k, v] of Object.entries(properties)) assert.doesNotMatch(v, /["&<]/u, `${k}: govc would put it into the XML unescaped`);
    assertValid(injectedEnvironment(properties), spec.Deployment, `${what} (InjectOvfEnv)`);
  });
}

/** Shell words of a command: backslash-newline joins lines; '…' and "…" quote (no expansion is allowed in the examples). */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && text[i + 1] === '\n') {
      i++;
    } else if (c === '\\') {
      word = (word ?? '') + text[++i];
    } else if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      assert.notEqual(end, -1, `an unclosed ${c} in: ${text}`);
      const quoted = text.slice(i + 1, end);
      if (c === '"') assert.doesNotMatch(quoted, /[$`\\]/u, `no expansion in the examples: ${quoted}`);
      word = (word ?? '') + quoted;
      i = end;
    } else if (/\s/u.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

interface OvftoolRun {
  deployment: string;
  nets: Map<string, string>;
  props: Map<string, string>;
  inject: boolean;
  powerOn: boolean;
  target: string;
}

function ovftoolRun(text: string): OvftoolRun {
  const words = shellWords(text);
  assert.equal(words[0], 'ovftool');
  const run: OvftoolRun = { deployment: '', nets: new Map(), props: new Map(), inject: false, powerOn: false, target: words.at(-1)! };
  for (const w of words.slice(1)) {
    const [, name, value] = /^--([^=]+)(?:=([\s\S]*))?$/u.exec(w) ?? [];
    if (name === undefined) continue;
    if (name === 'deploymentOption') run.deployment = value!;
    else if (name.startsWith('net:')) run.nets.set(name.slice(4), value!);
    else if (name.startsWith('prop:')) {
      assert.equal(run.props.has(name.slice(5)), false, `${name} given twice`);
      run.props.set(name.slice(5), value!);
    } else if (name === 'X:injectOvfEnv') run.inject = true;
    else if (name === 'powerOn') run.powerOn = true;
  }
  return run;
}

const RUNS = blocks('sh')
  .filter((b) => b.startsWith('ovftool '))
  .map(ovftoolRun);

test('docs/ova.md has an ovftool command for each deployment option, one through vCenter and one with --X:injectOvfEnv', () => {
  assert.deepEqual(RUNS.map((r) => r.deployment).sort(), CONFIGURATIONS.map((c) => c.id).sort());
  assert.deepEqual(RUNS.map((r) => r.inject).sort(), [false, true]);
  for (const r of RUNS) assert.match(r.target, /^vi:\/\//u);
});

for (const run of RUNS) {
  const what = `the ovftool command for ${run.deployment}`;
  test(`${what}: every --prop: key, --net: name and the option are declared; the agent accepts the environment it makes`, () => {
    assert.ok(
      CONFIGURATIONS.some((c) => c.id === run.deployment),
      run.deployment,
    );
    assert.deepEqual([...run.nets.keys()], NICS[run.deployment], 'the networks that carry a NIC in this option, each mapped');
    for (const [key] of run.props) {
      const d = DECLARED.get(key);
      assert.ok(d, `${key} is a property of the descriptor`);
      assert.ok(d.userConfigurable, `${key} is user-configurable`);
      assert.ok(inConfiguration(d, run.deployment), `${key} belongs to ${run.deployment}`);
    }
    if (run.inject) assert.ok(run.powerOn, '--X:injectOvfEnv goes with --powerOn');
    // What the deployer gets: every property of the option, its default unless given.
    const properties = Object.fromEntries(
      [...DECLARED.values()].filter((d) => inConfiguration(d, run.deployment)).map((d) => [d.key, run.props.get(d.key) ?? d.value]),
    );
    checkBooleans(properties, what);
    assertValid(vcenterEnvironment(properties, run.deployment), run.deployment, `${what} (vCenter)`);
    if (run.inject) assertValid(injectedEnvironment(properties), run.deployment, `${what} (injected)`);
  });
}

test('the checks can fail: a bad value, an unknown key and a frontend property in default are refused', () => {
  const spec = SPECS.find((s) => s.Deployment === 'default')!;
  const properties = Object.fromEntries(spec.PropertyMapping.map((p) => [p.Key, p.Value]));
  assert.throws(
    () => assertValid(vcenterEnvironment({ ...properties, 'network.nameservers': '1.1.1.x' }, 'default'), 'default', 'bad'),
    /network\.nameservers/u,
  );
  assert.throws(() => assertValid(vcenterEnvironment({ ...properties, 'network.host_name': 'x' }, 'default'), 'default', 'unknown'), /network\.host_name/u);
  assert.throws(
    () => assertValid(vcenterEnvironment({ ...properties, 'network.frontend_ip': '172.16.10.2/24' }, 'default'), 'default', 'frontend in default'),
    /network\.frontend_ip/u,
  );
  assert.throws(() => assertValid(injectedEnvironment({ ...properties, 'loadbalance.haproxy_pwd': 'a"b&c<d' }), 'default', 'unescaped'));
});
