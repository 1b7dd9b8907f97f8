/**
 * The checks, pure: facts parsed from captured collections (healthy and broken seed appliances)
 * plus variations of them, against the seed's configuration. Each failure names its cause.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validateProperties } from '../../../src/config/validate.js';
import { publicConfig, type PublicConfig } from '../../../src/appliance/state.js';
import { runChecks, type CheckInput } from '../../../src/verify/checks/index.js';
import { observedFromSections } from '../../../src/verify/observed.js';
import { parseBinds } from '../../../src/verify/parse/haproxy.js';
import { parseRoutes } from '../../../src/verify/parse/ip.js';
import { parseNetstat } from '../../../src/verify/parse/listeners.js';
import { splitSections } from '../../../src/verify/script.js';
import { expectedFor } from '../../../src/verify/expected.js';
import type { ApiProbe, CheckResult, Observed, Route } from '../../../src/verify/types.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';
import { ROOT } from '../../harness/verify-bed.js';

const FIXED_MARKER = '@@hpa-0123456789abcdef@@';
const fx = (p: string) => readFileSync(`${ROOT}test/fixtures/verify/${p}`, 'utf8');
const SEED: PublicConfig = publicConfig(validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!);

function facts(name: 'healthy' | 'broken'): Observed {
  return observedFromSections(splitSections(FIXED_MARKER, fx(`bed/collect-${name}.stdout`), fx(`bed/collect-${name}.stderr`)));
}

/** What the API probe saw on the healthy appliance: the server certificate it serves. */
function apiOk(f: Observed): ApiProbe {
  const server = f.certs.find((c) => c.source === '/etc/haproxy/server.crt')!;
  return {
    address: '10.191.181.52',
    port: 5556,
    via: 'direct',
    peer: { ...server, source: 'served by 10.191.181.52:5556' },
    info: { path: '/v2/info', status: 200, version: 'v2.1.0 x' },
  };
}

function input(f: Observed, extra: Partial<CheckInput> = {}): CheckInput {
  return { observed: f, ...expectedFor(f, undefined), api: apiOk(f), apiUser: 'wcp', now: new Date(f.remoteTime! * 1000), ...extra };
}

const find = (rs: CheckResult[], id: string, subject?: string) => {
  const r = rs.find((x) => x.id === id && (subject === undefined || x.subject === subject));
  assert.ok(r, `no result ${id} ${subject ?? ''}: ${rs.map((x) => `${x.id} ${x.subject ?? ''}`).join(', ')}`);
  return r;
};
const notPassing = (rs: CheckResult[]) =>
  rs.filter((r) => r.status !== 'pass').map((r) => `${r.status} ${r.id}${r.subject ? ` ${r.subject}` : ''}: ${r.message}`);

test('a healthy seed appliance passes every check, from its own state.json', () => {
  const f = facts('healthy');
  const rs = runChecks(input(f));
  assert.deepEqual(notPassing(rs), []);
  assert.equal(find(rs, 'state').message.startsWith('expected configuration from /var/lib/haproxy-appliance/state.json'), true);
  assert.equal(find(rs, 'dataplane.listen').message, 'dataplaneapi listens on 10.191.181.52:5556');
  assert.equal(find(rs, 'route.default').message, 'default via 10.191.191.254 dev management');
  assert.deepEqual(
    rs.filter((r) => r.id === 'vip.bind').map((r) => r.subject),
    ['192.168.0.1:443', '192.168.0.1:6443', '192.168.0.3:6443', '192.168.0.2:80'],
  );
  assert.match(find(rs, 'service', 'haproxy').message, /process presence/u);
  assert.match(find(rs, 'dataplane.api').message, /v2\.1\.0/u);
  // Every id is one of the documented ones.
  const doc = fx('../../../docs/verify.md');
  for (const id of new Set(rs.map((r) => r.id))) assert.ok(doc.includes(`\`${id}\``), `docs/verify.md does not describe ${id}`);
});

test('a broken appliance: haproxy stopped, AnyIP route gone, API on the wrong port — each named by its check', () => {
  const f = facts('broken');
  const rs = runChecks(input(f, { api: { address: '10.191.181.52', port: 5556, via: 'direct', error: 'connection refused' } }));
  assert.equal(find(rs, 'service', 'haproxy').status, 'fail');
  const listen = find(rs, 'dataplane.listen');
  assert.equal(listen.status, 'fail');
  assert.match(
    listen.message,
    /^dataplaneapi listens on 10\.191\.181\.52:5557, not on 10\.191\.181\.52:5556 \(loadbalance\.dataplane_port 5556\); it runs with --tls-host=10\.191\.181\.52 --tls-port=5557 --scheme=https$/u,
  );
  assert.equal(find(rs, 'dataplane.tls').status, 'skip');
  assert.equal(find(rs, 'dataplane.api').status, 'skip');
  const anyip = find(rs, 'anyip', '192.168.0.0/24');
  assert.equal(anyip.status, 'fail');
  assert.match(anyip.remedy!, /ip route add local 192\.168\.0\.0\/24 dev lo table local/u);
  const bind = find(rs, 'vip.bind', '192.168.0.1:443');
  assert.equal(bind.status, 'fail');
  assert.match(bind.message, /^VIP 192\.168\.0\.1:443 is in haproxy\.cfg but nothing listens: haproxy is not running \(frontend /u);
  assert.equal(find(rs, 'route.default').status, 'pass');
});

test("the issue's example: a VIP in haproxy.cfg that nothing listens on because no AnyIP route covers it", () => {
  const f = facts('healthy');
  f.routes = f.routes!.filter((r) => !(r.type === 'local' && r.dst === '192.168.0.0/24'));
  f.listeners = f.listeners!.filter((l) => l.address !== '192.168.0.3');
  const rs = runChecks(input(f));
  const bind = find(rs, 'vip.bind', '192.168.0.3:6443');
  assert.equal(bind.status, 'fail');
  assert.match(
    bind.message,
    /^VIP 192\.168\.0\.3:6443 is in haproxy\.cfg but nothing listens: no AnyIP route covers 192\.168\.0\.3 \(service ranges: 192\.168\.0\.0\/24\) \(frontend /u,
  );
  assert.match(bind.remedy!, /AnyIP route of its range is missing/u);
  // The sockets bound before the route went stay open: they pass vip.bind, anyip says why nothing reaches them.
  assert.equal(find(rs, 'vip.bind', '192.168.0.1:443').status, 'pass');
  assert.equal(find(rs, 'anyip').status, 'fail');
});

test('a VIP outside the service ranges', () => {
  const f = facts('healthy');
  f.binds = parseBinds(`${fx('bed/haproxy.cfg')}\nfrontend stray\n  mode tcp\n  bind 10.99.0.1:443\n`);
  const rs = runChecks(input(f));
  const bind = find(rs, 'vip.bind', '10.99.0.1:443');
  assert.equal(bind.status, 'fail');
  assert.match(
    bind.message,
    /^VIP 10\.99\.0\.1:443 is in haproxy\.cfg but nothing listens: no AnyIP route covers 10\.99\.0\.1 \(service ranges: 192\.168\.0\.0\/24\); 10\.99\.0\.1 is outside the service ranges \(192\.168\.0\.0\/24\) \(frontend stray, haproxy\.cfg line \d+\)$/u,
  );
  assert.match(bind.remedy!, /inside 192\.168\.0\.0\/24/u);
});

test('haproxy.cfg changed after haproxy started, and the bind it added is not loaded', () => {
  const f = facts('healthy');
  f.binds = parseBinds(`${fx('bed/haproxy.cfg')}\nfrontend new\n  bind 192.168.0.7:443\n`);
  f.haproxyCfgMtime = f.remoteTime! - 1;
  for (const p of f.processes!) if (p.comm === 'haproxy') p.elapsed = 100;
  const bind = find(runChecks(input(f)), 'vip.bind', '192.168.0.7:443');
  assert.match(bind.message, /nothing listens: haproxy\.cfg changed after haproxy started/u);
  assert.equal(bind.remedy, 'systemctl reload haproxy');
});

test('routing: a missing default route, a missing policy default, a duplicate and a stray rule', () => {
  const f = facts('healthy');
  f.routes = f.routes!.filter((r) => !(r.table === 'main' && r.dst === 'default') && !(r.table === '201' && r.dst === 'default'));
  f.rules = [
    ...f.rules!,
    { priority: 2000, from: '192.168.0.0/16', to: 'all', action: 'lookup', table: '200' },
    { priority: 1500, from: '10.0.0.0/8', to: 'all', action: 'lookup', table: '201' },
  ];
  const rs = runChecks(input(f));
  const def = find(rs, 'route.default');
  assert.equal(def.status, 'fail');
  assert.equal(def.message, 'no default via 10.191.191.254 dev management: the main table has no default route');
  const t201 = find(rs, 'route.table', 'frontend (table 201)');
  assert.equal(t201.status, 'fail');
  assert.match(t201.message, /^missing: default via 172\.16\.10\.1 dev frontend table 201$/u);
  assert.match(find(rs, 'rule', 'workload (table 200)').message, /rule `2000: from 192\.168\.0\.0\/16 lookup 200` is there 2 times/u);
  assert.match(find(rs, 'rule', 'frontend (table 201)').message, /unexpected: `1500: from 10\.0\.0\.0\/8 lookup 201`/u);
  assert.equal(find(rs, 'vip.return-path').status, 'pass');
});

test('replies from the VIPs leave by the wrong NIC when their rule is missing', () => {
  const f = facts('healthy');
  f.rules = f.rules!.filter((r) => r.priority !== 1000 && r.priority !== 2000);
  const rs = runChecks(input(f));
  const rp = find(rs, 'vip.return-path', '192.168.0.0/24');
  assert.equal(rp.status, 'fail');
  assert.match(
    rp.message,
    /^replies from 192\.168\.0\.1 \(192\.168\.0\.0\/24\) to a remote client such as 198\.51\.100\.10 leave via 10\.191\.191\.254 dev management \(table main, rule 32766\), not via 192\.168\.1\.1 dev workload/u,
  );
});

test('additional workload networks are routed via workload', () => {
  const cfg: PublicConfig = { ...SEED, network: { ...SEED.network, additionalWorkloadNetworks: ['10.20.0.0/16'] } };
  const f = facts('healthy');
  const base = {
    observed: f,
    expected: { config: cfg, source: { kind: 'expect' as const, file: 'x' } },
    api: apiOk(f),
    apiUser: 'wcp',
    now: new Date(f.remoteTime! * 1000),
  };
  let rs = runChecks(base);
  assert.equal(find(rs, 'route.additional', '10.20.0.0/16').status, 'fail');
  assert.match(find(rs, 'rule', 'workload (table 200)').message, /rule `4000: from all to 10\.20\.0\.0\/16 lookup 200` is missing/u);
  f.rules = [...f.rules!, { priority: 4000, from: 'all', to: '10.20.0.0/16', action: 'lookup', table: '200' }];
  rs = runChecks(base);
  assert.equal(find(rs, 'route.additional', '10.20.0.0/16').message, '10.20.0.0/16 is routed via 192.168.1.1 dev workload (table 200, rule 4000)');
});

test('static routes: each in the table(s) of its NIC; a missing one fails naming the route, the table and the remedy', () => {
  const cfg: PublicConfig = {
    ...SEED,
    network: {
      ...SEED.network,
      staticRoutes: [
        { destination: '10.20.0.0/16', gateway: '192.168.1.254' },
        { destination: '10.30.0.0/24', gateway: '10.191.191.253' },
      ],
    },
  };
  const f = facts('healthy');
  const base = () => ({
    observed: f,
    expected: { config: cfg, source: { kind: 'expect' as const, file: 'x' } },
    api: apiOk(f),
    apiUser: 'wcp',
    now: new Date(f.remoteTime! * 1000),
  });
  let rs = runChecks(base());
  const wl = find(rs, 'route.static', '10.20.0.0/16');
  assert.equal(wl.status, 'fail');
  assert.equal(wl.message, '10.20.0.0/16 via 192.168.1.254 dev workload (network.static_routes) is missing: table 200 lacks it; the main table lacks it');
  assert.equal(
    wl.remedy,
    'rerun haproxy-appliance provision, then networkctl reload (/etc/systemd/network/20-workload.network holds the route); at once: ip route replace 10.20.0.0/16 via 192.168.1.254 dev workload table 200; ip route replace 10.20.0.0/16 via 192.168.1.254 dev workload',
  );
  // The table checks are not confused by them.
  assert.equal(find(rs, 'route.table', 'workload (table 200)').status, 'pass');
  const route = (table: string, dst: string, gateway: string, dev: string): Route => ({ table, dst, gateway, dev, type: 'unicast', protocol: 'static' });
  f.routes = [
    ...f.routes!,
    route('200', '10.20.0.0/16', '192.168.1.254', 'workload'),
    route('main', '10.20.0.0/16', '192.168.1.254', 'workload'),
    route('main', '10.30.0.0/24', '10.191.191.253', 'management'),
  ];
  rs = runChecks(base());
  assert.equal(find(rs, 'route.static', '10.20.0.0/16').message, '10.20.0.0/16 via 192.168.1.254 dev workload in table 200 and the main table');
  assert.equal(find(rs, 'route.static', '10.30.0.0/24').message, '10.30.0.0/24 via 10.191.191.253 dev management in the main table');
  assert.deepEqual(notPassing(rs), []);
  // Routed another way in main, and workload down: both said.
  f.routes = f.routes.map((x) => (x.table === 'main' && x.dst === '10.20.0.0/16' ? { ...x, gateway: '10.191.191.254', dev: 'management' } : x));
  f.interfaces = f.interfaces!.map((i) => (i.name === 'workload' ? { ...i, up: false } : i));
  const bad = find(runChecks(base()), 'route.static', '10.20.0.0/16');
  assert.equal(bad.status, 'fail');
  assert.match(bad.message, /: the main table routes it as 10\.20\.0\.0\/16 via 10\.191\.191\.254 dev management \(workload is down\)$/u);
  // Without the property: no result. The captured state.json predates the property: read as none.
  assert.equal(runChecks(input(facts('healthy'))).filter((x) => x.id === 'route.static').length, 0);
  const old = expectedFor(facts('healthy'), undefined).expected!.config.network;
  assert.deepEqual([old.staticRoutes, old.searchDomains], [[], []]);
});

test('search domains: the search line of /etc/resolv.conf; missing fails (with why), extra warns', () => {
  const cfg: PublicConfig = { ...SEED, network: { ...SEED.network, searchDomains: ['corp.example.com', 'lab.example'] } };
  const withResolv = (text: string, upstream?: string): Observed => {
    const f = facts('healthy');
    const sections = { ...f.sections, 'resolv.conf': { stdout: text, stderr: '', rc: 0 } };
    if (upstream !== undefined) Object.assign(sections, { 'resolved-upstream': { stdout: upstream, stderr: '', rc: 0 } });
    return observedFromSections(sections);
  };
  const run = (f: Observed) =>
    find(
      runChecks({
        observed: f,
        expected: { config: cfg, source: { kind: 'expect', file: 'x' } },
        api: apiOk(f),
        apiUser: 'wcp',
        now: new Date(f.remoteTime! * 1000),
      }),
      'dns.search',
    );
  const stub = 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example.com lab.example\n';
  let r = run(withResolv(stub));
  assert.deepEqual([r.status, r.message], ['pass', '/etc/resolv.conf has search corp.example.com lab.example (network.search_domains)']);
  r = run(withResolv('nameserver 127.0.0.53\nsearch corp.example.com\n'));
  assert.equal(r.status, 'fail');
  assert.equal(r.message, '/etc/resolv.conf has search corp.example.com, without lab.example (network.search_domains: corp.example.com, lab.example)');
  assert.match(r.remedy!, /networkctl reload/u);
  r = run(withResolv('nameserver 10.170.16.48\nnameserver 10.142.7.1\n', 'nameserver 10.170.16.48\nsearch corp.example.com lab.example\n'));
  assert.equal(r.status, 'fail');
  assert.match(
    r.message,
    /has no search line, without corp\.example\.com, lab\.example .*systemd-resolved has them .* but \/etc\/resolv\.conf is not its file$/u,
  );
  assert.match(r.remedy!, /^ln -sf \/run\/systemd\/resolve\/stub-resolv\.conf \/etc\/resolv\.conf/u);
  r = run(withResolv('nameserver 127.0.0.53\nsearch corp.example.com lab.example other.example\n'));
  assert.deepEqual(
    [r.status, r.message],
    [
      'warn',
      '/etc/resolv.conf has search corp.example.com lab.example other.example: network.search_domains: corp.example.com, lab.example is there, but so are other.example',
    ],
  );
  // The last search/domain line wins (resolv.conf(5)).
  assert.equal(run(withResolv('search old.example\ndomain corp.example.com\nsearch corp.example.com lab.example\n')).status, 'pass');
  // Without the property: no result.
  assert.equal(runChecks(input(facts('healthy'))).filter((x) => x.id === 'dns.search').length, 0);
});

test('certificates: expiry warned under 30 days, failed when expired; a wrong CA fails dataplane.tls', () => {
  const f = facts('healthy');
  const server = f.certs.find((c) => c.source === '/etc/haproxy/server.crt')!;
  const soon = new Date(new Date(server.validTo).getTime() - 10 * 86_400_000);
  let rs = runChecks(input(f, { now: soon }));
  const exp = find(rs, 'cert.expiry', '/etc/haproxy/server.crt');
  assert.equal(exp.status, 'warn');
  assert.match(exp.message, /expires in (9|10) days/u);
  rs = runChecks(input(f, { now: new Date(new Date(server.validTo).getTime() + 86_400_000) }));
  assert.equal(find(rs, 'cert.expiry', '/etc/haproxy/server.crt').status, 'fail');
  assert.equal(find(rs, 'dataplane.tls').status, 'fail');
  // The API serves the CA's own certificate: it does not name the address, and is not the server certificate.
  const ca = f.certs.find((c) => c.source === '/etc/haproxy/ca.crt')!;
  rs = runChecks(input(f, { api: { ...apiOk(f), peer: { ...ca, source: 'served' } } }));
  const tls = find(rs, 'dataplane.tls');
  assert.equal(tls.status, 'fail');
  assert.match(tls.message, /does not name 10\.191\.181\.52/u);
});

test('the seed as text: netstat -tnlp and ip r in place of ss and ip -j', () => {
  const f = facts('healthy');
  f.listeners = parseNetstat(fx('seed/netstat-tnlp.txt'));
  f.listenerTool = 'netstat';
  f.routes = [...parseRoutes(fx('seed/ip-r.txt')), ...f.routes!.filter((r) => r.table !== 'main')];
  const rs = runChecks(input(f));
  for (const id of ['dataplane.listen', 'ssh.listen', 'route.default']) assert.equal(find(rs, id).status, 'pass', id);
  assert.deepEqual(
    rs.filter((r) => r.id === 'route.link').map((r) => r.status),
    ['pass', 'pass', 'pass'],
  );
  // The seed's netstat has no 192.168.0.3:6443 (the guest cluster came later).
  assert.equal(find(rs, 'vip.bind', '192.168.0.3:6443').status, 'fail');
  assert.equal(find(rs, 'vip.bind', '192.168.0.2:80').status, 'pass');
  // The bed's netstat names the API stand-in (a node script) `node`: its PID says dataplaneapi.
  const g = facts('healthy');
  g.listeners = parseNetstat(fx('bed/netstat-tnlp.txt'));
  g.listenerTool = 'netstat';
  const pidOf = g.listeners.find((l) => l.port === 5556)!.processes[0]!.pid!;
  for (const p of g.processes!) if (p.comm === 'dataplaneapi') p.pid = pidOf;
  for (const l of g.listeners) for (const p of l.processes) if (p.name === 'haproxy') for (const q of g.processes!) if (q.comm === 'haproxy') q.pid = p.pid!;
  assert.equal(find(runChecks(input(g)), 'dataplane.listen').status, 'pass');
});

test('stray listeners on VIPs and wildcard listeners', () => {
  const f = facts('healthy');
  f.listeners = [
    ...f.listeners!,
    { address: '192.168.0.9', port: 8080, family: 4, processes: [{ name: 'python3', pid: 9 }] },
    { address: '0.0.0.0', port: 9100, family: 4, processes: [{ name: 'node_exporter', pid: 10 }] },
  ];
  const rs = runChecks(input(f)).filter((r) => r.id === 'vip.exposed');
  assert.deepEqual(
    rs.map((r) => [r.status, r.subject]),
    [
      ['fail', '192.168.0.9:8080'],
      ['warn', '0.0.0.0:9100'],
    ],
  );
  assert.match(rs[1]!.message, /node_exporter listens on every address \(0\.0\.0\.0:9100\); with AnyIP that includes every VIP in 192\.168\.0\.0\/24/u);
});

test('no state.json and no --expect: the state check fails and says what to do', () => {
  const f = facts('healthy');
  delete f.stateText;
  f.sections.state = { rc: 1, stdout: '', stderr: 'cat: /var/lib/haproxy-appliance/state.json: No such file or directory' };
  const rs = runChecks({ observed: f, ...expectedFor(f, undefined), now: new Date(f.remoteTime! * 1000) });
  const st = find(rs, 'state');
  assert.equal(st.status, 'fail');
  assert.match(st.message, /does not exist \(the agent has not run\)/u);
  assert.match(st.remedy!, /--expect/u);
  // What needs no configuration is still checked.
  assert.equal(find(rs, 'service', 'haproxy').status, 'pass');
  assert.equal(find(rs, 'haproxy.config').status, 'pass');
});

test('--expect that differs from state.json warns with the differences', () => {
  const f = facts('healthy');
  const other: PublicConfig = { ...SEED, loadbalance: { ...SEED.loadbalance, dataplanePort: 5557 } };
  const exp = expectedFor(f, { file: 'env.xml', config: other });
  assert.deepEqual(exp.stateDifferences, ['loadbalance.dataplanePort: 5556 → 5557']);
  const rs = runChecks({ observed: f, ...exp, now: new Date(f.remoteTime! * 1000) });
  assert.equal(find(rs, 'state').status, 'warn');
  assert.equal(find(rs, 'dataplane.listen').status, 'fail');
});

test('no listener tool: checks say they cannot tell instead of failing', () => {
  const f = facts('healthy');
  delete f.listeners;
  f.listenerProblem = 'neither ss nor netstat is installed on the appliance';
  const rs = runChecks(input(f));
  assert.equal(find(rs, 'dataplane.listen').status, 'warn');
  assert.match(find(rs, 'vip.bind', '192.168.0.1:443').message, /cannot tell whether it listens/u);
});

/** The healthy appliance checked against the seed with other `appliance` settings. */
function withAppliance(f: Observed, appliance: Partial<PublicConfig['appliance']>): CheckInput {
  const cfg: PublicConfig = { ...SEED, appliance: { ...SEED.appliance, ...appliance } };
  return {
    observed: f,
    expected: { config: cfg, source: { kind: 'expect' as const, file: 'x' } },
    api: apiOk(f),
    apiUser: 'wcp',
    now: new Date(f.remoteTime! * 1000),
  };
}

test("ssh.root-keys: every key of appliance.ssh_authorized_keys in root's authorized_keys, by fingerprint; modes sshd accepts", () => {
  const ed = fx('../ssh/root-key-1.pub').trim();
  const ec = fx('../ssh/root-key-2.pub').trim();
  // ssh-keygen -l -E sha256 of the two fixture keys (as the collection prints them).
  const FP1 = 'SHA256:Rb05vvQlDJ7RqOtxCX45yRq73MfQ+ihg7TcIQNomjEI';
  const FP2 = 'SHA256:4EtKLF10gNRqQ9qbvK2IvPyJSIg3VSEFbARfsDer8Tg';
  const f = facts('healthy');
  // The captured bed has no key of the property: blank passes, a key of the property fails.
  assert.equal(find(runChecks(input(f)), 'ssh.root-keys').status, 'pass');
  let rs = runChecks(withAppliance(f, { sshAuthorizedKeys: [ed, ec] }));
  let k = find(rs, 'ssh.root-keys');
  assert.equal(k.status, 'fail');
  assert.match(k.message, /lacks 2 keys of appliance\.ssh_authorized_keys: SHA256:\S+ \(admin@workstation\), SHA256:\S+ \(automation\)/u);
  assert.match(k.remedy!, /rerun haproxy-appliance provision/u);
  f.sshAccess = { ...f.sshAccess!, fingerprints: [FP1] };
  k = find(runChecks(withAppliance(f, { sshAuthorizedKeys: [ed, ec] })), 'ssh.root-keys');
  assert.equal(k.status, 'fail');
  assert.match(k.message, /lacks 1 key of appliance\.ssh_authorized_keys: SHA256:\S+ \(automation\)$/u);
  f.sshAccess = { ...f.sshAccess, fingerprints: [FP2, FP1, 'SHA256:someoneelse'] };
  k = find(runChecks(withAppliance(f, { sshAuthorizedKeys: [ed, ec] })), 'ssh.root-keys');
  assert.equal(k.status, 'pass', k.message);
  assert.match(k.message, /holds the 2 keys .*\/root\/\.ssh 700, authorized_keys 600, owned by root/u);
  // A group-writable folder: sshd ignores the keys.
  f.sshAccess = { ...f.sshAccess, modes: { ...f.sshAccess.modes, '/root/.ssh': { mode: 0o770, owner: 'root' } } };
  k = find(runChecks(withAppliance(f, { sshAuthorizedKeys: [ed, ec] })), 'ssh.root-keys');
  assert.equal(k.status, 'fail');
  assert.match(k.message, /\/root\/\.ssh is 770 owned by root: sshd ignores keys others may write/u);
  // Readable by others only: a warning.
  f.sshAccess = { ...f.sshAccess, modes: { ...f.sshAccess.modes, '/root/.ssh': { mode: 0o755, owner: 'root' } } };
  assert.equal(find(runChecks(withAppliance(f, { sshAuthorizedKeys: [ed, ec] })), 'ssh.root-keys').status, 'warn');
  // Not root and nothing readable: cannot tell.
  const g = facts('healthy');
  g.uid = 1000;
  g.sshAccess = { modes: {}, fingerprints: [], sshd: {} };
  rs = runChecks(withAppliance(g, { sshAuthorizedKeys: [ed] }));
  assert.equal(find(rs, 'ssh.root-keys').status, 'skip');
  assert.equal(find(rs, 'ssh.root-login').status, 'skip');
  // Not collected at all: a warning, not a pass.
  delete g.sshAccess;
  assert.equal(find(runChecks(withAppliance(g, { sshAuthorizedKeys: [ed] })), 'ssh.root-keys').status, 'warn');
});

test("ssh.root-login: sshd -T's PermitRootLogin against appliance.permit_root_login (sshd prints prohibit-password as without-password)", () => {
  const f = facts('healthy');
  assert.match(find(runChecks(input(f)), 'ssh.root-login').message, /effective PermitRootLogin is yes \(sshd -T\); PasswordAuthentication yes/u);
  let l = find(runChecks(withAppliance(f, { permitRootLogin: 'prohibit-password' })), 'ssh.root-login');
  assert.equal(l.status, 'fail');
  assert.match(l.message, /effective PermitRootLogin is yes, but appliance\.permit_root_login says prohibit-password/u);
  f.sshAccess = { ...f.sshAccess!, sshd: { ...f.sshAccess!.sshd, permitrootlogin: 'without-password' } };
  l = find(runChecks(withAppliance(f, { permitRootLogin: 'prohibit-password' })), 'ssh.root-login');
  assert.equal(l.status, 'pass', l.message);
  assert.match(l.message, /root logs in with a key only/u);
  assert.equal(find(runChecks(withAppliance(f, { permitRootLogin: false })), 'ssh.root-login').status, 'fail');
  // Root, but sshd -T said nothing (a broken sshd_config): a warning.
  f.sshAccess = { ...f.sshAccess, sshd: {} };
  assert.equal(find(runChecks(input(f)), 'ssh.root-login').status, 'warn');
});

test('clock: more than a minute off the workstation warns, either way; a minute or less passes', () => {
  const f = facts('healthy');
  const at = (skewS: number) => find(runChecks({ ...input(f), now: new Date((f.remoteTime! - skewS) * 1000) }), 'clock');
  for (const s of [0, 60, -60]) assert.equal(at(s).status, 'pass', String(s));
  assert.equal(at(61).status, 'warn');
  assert.match(at(61).message, /61 s ahead of this workstation's/u);
  assert.equal(at(-61).status, 'warn');
  assert.match(at(-61).message, /61 s behind this workstation's/u);
  assert.match(at(0).message, /within 60 s/u);
});
