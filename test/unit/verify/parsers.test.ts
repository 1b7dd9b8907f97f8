/**
 * The collection parsers on captured real outputs: the seed's `netstat -tnlp` and `ip r`
 * (test/fixtures/verify/seed/, verbatim from the seed document), and outputs of the real tools
 * captured from a seed appliance in network namespaces (test/fixtures/verify/bed/, written by
 * capture-fixtures.ts: systemd-networkd 252, iproute2, net-tools, haproxy 2.6).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { observedFromSections } from '../../../src/verify/observed.js';
import { parseAddrs, parseRouteLine, parseRoutes, parseRules } from '../../../src/verify/parse/ip.js';
import { listensOn, parseNetstat, parseSs, splitHostPort } from '../../../src/verify/parse/listeners.js';
import { haproxyCheckSummary, parseBindAddress, parseBinds, parseHaproxyVersion } from '../../../src/verify/parse/haproxy.js';
import { certInfo, chainsTo, parseCertSection } from '../../../src/verify/parse/certs.js';
import { parseMeta, parseProcesses, parseResolvConf, serviceStates } from '../../../src/verify/parse/system.js';
import { collectionScript, splitSections } from '../../../src/verify/script.js';
import { ROOT } from '../../harness/verify-bed.js';

const FIXED_MARKER = '@@hpa-0123456789abcdef@@';
const fx = (p: string) => readFileSync(`${ROOT}test/fixtures/verify/${p}`, 'utf8');

const key = (l: { address: string; port: number; processes: { name: string }[] }) => `${l.address}:${l.port} ${l.processes.map((p) => p.name).join(',')}`;

test("the seed's netstat -tnlp", () => {
  const ls = parseNetstat(fx('seed/netstat-tnlp.txt'));
  assert.deepEqual(ls.map(key), [
    '192.168.0.1:443 haproxy',
    '192.168.0.1:6443 haproxy',
    '192.168.0.2:80 haproxy',
    '10.191.181.52:5556 dataplaneapi',
    '10.191.181.52:22 sshd',
  ]);
  assert.deepEqual(ls[0]!.processes, [{ pid: 5638, name: 'haproxy' }]);
  assert.ok(ls.every((l) => l.family === 4));
});

test('ss -Htnlp and netstat -tnlp of the same appliance agree', () => {
  const ss = parseSs(fx('bed/ss-Htnlp.txt'));
  const ns = parseNetstat(fx('bed/netstat-tnlp.txt'));
  assert.equal(ss.length, 6);
  // netstat names a process by argv[0]: the Data Plane API stand-in (a node script) shows as node.
  const pidKey = (l: { address: string; port: number; processes: { pid?: number }[] }) => `${l.address}:${l.port} ${l.processes.map((p) => p.pid).join(',')}`;
  assert.deepEqual(ss.map(pidKey).sort(), ns.map(pidKey).sort());
  assert.deepEqual(
    ss
      .filter((l) => l.port !== 5556)
      .map(key)
      .sort(),
    ns
      .filter((l) => l.port !== 5556)
      .map(key)
      .sort(),
  );
  // netstat truncates sshd's process title (`7214/sshd: /usr/sbi`); the name is still sshd.
  assert.ok(ns.some((l) => l.port === 22 && l.processes[0]!.name === 'sshd'));
  assert.ok(ss.find((l) => l.port === 5556)!.processes.some((p) => p.name === 'dataplaneapi'));
});

test('listener addresses as ss and netstat print them', () => {
  assert.deepEqual(splitHostPort('0.0.0.0:22'), { address: '0.0.0.0', port: 22, family: 4 });
  assert.deepEqual(splitHostPort('[::]:22'), { address: '::', port: 22, family: 6 });
  assert.deepEqual(splitHostPort('*:80'), { address: '::', port: 80, family: 6, dualStack: true });
  assert.deepEqual(splitHostPort(':::22'), { address: '::', port: 22, family: 6 });
  assert.deepEqual(splitHostPort('127.0.0.53%lo:53'), { address: '127.0.0.53', port: 53, family: 4, device: 'lo' });
  assert.deepEqual(splitHostPort('[::ffff:10.0.0.1]:443'), { address: '10.0.0.1', port: 443, family: 4 });
  assert.deepEqual(splitHostPort('[fe80::1%eth0]:22'), { address: 'fe80::1', port: 22, family: 6, device: 'eth0' });
  const v6only = parseSs('LISTEN 0 128 [::]:22 [::]:* users:(("sshd",pid=1,fd=4))')[0]!;
  assert.equal(v6only.dualStack, false);
  assert.equal(listensOn(v6only, '10.0.0.1'), false);
  const dual = parseSs('LISTEN 0 128 *:80 *:* users:(("nginx",pid=2,fd=6),("nginx",pid=3,fd=6))')[0]!;
  assert.equal(listensOn(dual, '10.0.0.1'), true);
  assert.deepEqual(
    dual.processes.map((p) => p.pid),
    [2, 3],
  );
  assert.equal(listensOn(parseSs('LISTEN 0 128 0.0.0.0:22 0.0.0.0:*')[0]!, '192.168.0.1'), true);
});

test("the seed's ip r", () => {
  const routes = parseRoutes(fx('seed/ip-r.txt'));
  assert.deepEqual(routes, [
    { type: 'unicast', dst: 'default', table: 'main', gateway: '10.191.191.254', dev: 'management', protocol: 'static' },
    { type: 'unicast', dst: '10.191.176.0/20', table: 'main', dev: 'management', protocol: 'kernel', scope: 'link', prefsrc: '10.191.181.52' },
    { type: 'unicast', dst: '172.16.10.0/24', table: 'main', dev: 'frontend', protocol: 'kernel', scope: 'link', prefsrc: '172.16.10.2' },
    { type: 'unicast', dst: '192.168.0.0/16', table: 'main', dev: 'workload', protocol: 'kernel', scope: 'link', prefsrc: '192.168.1.2' },
  ]);
  // The bed's main table, built by networkd from the agent's units, is the seed's.
  const bed = parseRoutes(fx('bed/ip-r.txt'));
  assert.deepEqual(bed, routes);
});

test('ip -j and ip text give the same routes, rules and addresses', () => {
  const norm = <T extends object>(xs: T[]) => xs.map((x) => JSON.stringify(x, Object.keys(x).sort())).sort();
  assert.deepEqual(norm(parseRoutes(fx('bed/ip-j-route-all.json'))), norm(parseRoutes(fx('bed/ip-route-all.txt'))));
  const rules = parseRules(fx('bed/ip-j-rule.json'));
  assert.deepEqual(norm(rules), norm(parseRules(fx('bed/ip-rule.txt'))));
  assert.deepEqual(
    rules.filter((r) => r.table === '200' || r.table === '201').map((r) => `${r.priority} ${r.from} ${r.table}`),
    ['1000 192.168.0.0/24 200', '2000 192.168.0.0/16 200', '2001 172.16.10.0/24 201'],
  );
  const addrs = parseAddrs(fx('bed/ip-j-addr.json'));
  assert.deepEqual(
    norm(addrs.map((a) => ({ ...a, operstate: undefined }))),
    norm(parseAddrs(fx('bed/ip-addr.txt')).map((a) => ({ ...a, operstate: undefined }))),
  );
  assert.deepEqual(
    addrs.find((a) => a.name === 'management'),
    { name: 'management', up: true, operstate: 'UP', mac: '00:50:56:b1:20:5e', ipv4: ['10.191.181.52/20'] },
  );
  const anyip = parseRoutes(fx('bed/ip-j-route-all.json')).find((r) => r.type === 'local' && r.dst === '192.168.0.0/24');
  assert.deepEqual(anyip, { type: 'local', dst: '192.168.0.0/24', table: 'local', dev: 'lo', protocol: 'static', scope: 'host' });
});

test('rule and route text forms ip prints', () => {
  assert.deepEqual(
    parseRules('3000:\tfrom all lookup 200 suppress_prefixlength 0\n4000:\tfrom all to 10.0.0.0/8 lookup 200\n5000:\tnot from 1.2.3.4 blackhole'),
    [
      { priority: 3000, from: 'all', to: 'all', action: 'lookup', table: '200', suppressPrefixLength: 0 },
      { priority: 4000, from: 'all', to: '10.0.0.0/8', action: 'lookup', table: '200' },
      { priority: 5000, from: '1.2.3.4/32', to: 'all', action: 'blackhole', not: true },
    ],
  );
  assert.deepEqual(parseRouteLine('blackhole 10.9.9.0/24 table 200'), { type: 'blackhole', dst: '10.9.9.0/24', table: '200' });
  assert.equal(parseRouteLine('fe80::/64 dev eth0'), undefined);
});

test('haproxy.cfg binds, with their sections and line numbers', () => {
  const cfg = fx('bed/haproxy.cfg');
  const binds = parseBinds(cfg);
  assert.deepEqual(
    binds.map((b) => `${b.address}:${b.port}`),
    ['192.168.0.1:443', '192.168.0.1:6443', '192.168.0.3:6443', '192.168.0.2:80'],
  );
  const lines = cfg.split('\n');
  for (const b of binds) assert.match(lines[b.line - 1]!, new RegExp(`bind ${b.text.replace(/\./gu, '\\.')}`));
  assert.match(binds[0]!.section, /^frontend domain-c50:/u);
  assert.deepEqual(parseBindAddress(':80'), { address: '0.0.0.0', port: 80 });
  assert.deepEqual(parseBindAddress('*:443'), { address: '0.0.0.0', port: 443 });
  assert.deepEqual(parseBindAddress('ipv4@10.0.0.1:8000-8010'), { address: '10.0.0.1', port: 8000, portEnd: 8010 });
  assert.deepEqual(parseBindAddress('ipv6@:443'), { address: '::', port: 443 });
  assert.deepEqual(parseBindAddress(':::443'), { address: '::', port: 443 });
  assert.deepEqual(parseBindAddress('unix@/run/x.sock'), {});
  assert.deepEqual(parseBindAddress('/run/x.sock'), {});
  const two = parseBinds('frontend f\n  bind 192.168.0.5:80,192.168.0.6:80 name x # comment\n  disabled\nlisten l\n  bind :8404\n');
  assert.deepEqual(
    two.map((b) => [b.section, b.text, b.line, b.disabled ?? false]),
    [
      ['frontend f', '192.168.0.5:80', 2, true],
      ['frontend f', '192.168.0.6:80', 2, true],
      ['listen l', ':8404', 5, false],
    ],
  );
});

test('haproxy -c output, valid and invalid', () => {
  assert.match(
    haproxyCheckSummary(fx('bed/haproxy-c-invalid.txt')),
    /^ALERT: config : parsing \[\/etc\/haproxy\/haproxy\.cfg:\d+\] : 'bind 192\.168\.0\.9:443' in section 'frontend': unknown keyword 'no-such-keyword'\./u,
  );
  assert.match(haproxyCheckSummary(fx('bed/haproxy-c-valid.txt')), /^WARNING: config : log format ignored/u);
  assert.equal(parseHaproxyVersion('HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/'), '2.6.12-1+deb12u4');
  assert.equal(parseHaproxyVersion('HA-Proxy version 2.1.4 2020/04/02 - https://haproxy.org/'), '2.1.4');
});

test('the certs section keeps certificates only', () => {
  const cert = fx('bed/collect-healthy.stdout').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/u)![0];
  const text = `file /etc/haproxy/ca.crt\n${cert}\nfile /etc/haproxy/server.crt\nunreadable\nfile /x.pem\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`;
  const { certs, missing } = parseCertSection(text);
  assert.equal(certs.length, 1);
  assert.equal(certs[0]!.source, '/etc/haproxy/ca.crt');
  assert.deepEqual(missing, ['/etc/haproxy/server.crt', '/x.pem']);
  assert.ok(!JSON.stringify(certs).includes('PRIVATE'));
});

test('ps lines and service states: systemd, or process presence in the same network namespace', () => {
  const procs = parseProcesses(
    'fields pid netns etimes comm args\n  10 4026532246   55 haproxy /usr/sbin/haproxy -W -db -f /etc/haproxy/haproxy.cfg\n  11 4026531833   99 sshd sshd: /usr/sbin/sshd -D\n  12 4026532246    5 dataplaneapi /usr/local/bin/dataplaneapi --tls-port=5556\n  13 - 7 systemd-network /lib/systemd/systemd-networkd',
  );
  assert.equal(procs.length, 4);
  assert.deepEqual(procs[0], { pid: 10, comm: 'haproxy', args: '/usr/sbin/haproxy -W -db -f /etc/haproxy/haproxy.cfg', elapsed: 55, netns: '4026532246' });
  const byProcess = serviceStates({ processes: procs, selfNetns: '4026532246' });
  assert.deepEqual(
    byProcess.map((s) => `${s.name}=${s.state}`),
    ['haproxy=running', 'dataplaneapi=running', 'sshd=not running', 'systemd-networkd=running'],
  );
  assert.ok(byProcess.every((s) => s.method === 'process'));
  const bySystemd = serviceStates({ systemctl: 'active\nfailed\ninactive\nactive\nactive\n', processes: [] });
  assert.deepEqual(
    bySystemd.map((s) => `${s.name}=${s.state}`),
    ['haproxy=active', 'dataplaneapi=failed', 'sshd=active', 'systemd-networkd=active'],
  );
  assert.deepEqual(parseMeta('uid 0\ntime 17\nhostname h\nselfnet net:[4026532246]\nsystemd no'), {
    uid: 0,
    time: 17,
    hostname: 'h',
    selfNetns: '4026532246',
    systemd: false,
  });
  assert.deepEqual(parseResolvConf('# x\nnameserver 10.170.16.48\nsearch local\nnameserver 10.142.7.1\n'), ['10.170.16.48', '10.142.7.1']);
});

test('the whole collection of a healthy appliance, split and parsed', () => {
  const sections = splitSections(FIXED_MARKER, fx('bed/collect-healthy.stdout'), fx('bed/collect-healthy.stderr'));
  assert.deepEqual(Object.keys(sections), [
    'meta',
    'state',
    'certs',
    'etc-hostname',
    'resolv.conf',
    'listeners.ss',
    'rt-tables',
    'ip.addr',
    'ip.route',
    'ip.rule',
    'processes',
    'haproxy-version',
    'haproxy-cfg-lines',
    'haproxy-cfg-mtime',
    'ssh-access',
    // Last: haproxy -c ran beside the rest of the script (haproxy had just started: no evidence
    // that it loaded the file), its stderr with its stdout.
    'haproxy-check',
  ]);
  assert.ok(Object.values(sections).every((s) => s.rc === 0));
  assert.match(sections['haproxy-check']!.stdout, /\[WARNING\]/u);
  assert.equal(sections['haproxy-check']!.stderr, '');
  const f = observedFromSections(sections);
  assert.equal(f.uid, 0);
  assert.equal(f.hostname, 'haproxy.local');
  assert.equal(f.listenerTool, 'ss');
  assert.equal(f.listeners!.length, 6);
  assert.equal(f.serviceMethod, 'process');
  assert.deepEqual(
    f.services!.map((s) => s.active),
    [true, true, true, true],
  );
  assert.deepEqual(f.resolvConf, ['10.170.16.48', '10.142.7.1']);
  // Root's SSH access: the modes of its .ssh, no key (the bed's verifier logs in with a password), sshd -T's settings.
  assert.deepEqual(f.sshAccess, {
    modes: { '/root/.ssh': { mode: 0o700, owner: 'root' }, '/root/.ssh/authorized_keys': { mode: 0o600, owner: 'root' } },
    fingerprints: [],
    sshd: { permitrootlogin: 'yes', pubkeyauthentication: 'yes', passwordauthentication: 'yes' },
  });
  assert.equal(f.binds!.length, 4);
  // The numbered lines the appliance sent say what the whole file says.
  assert.deepEqual(f.binds, parseBinds(fx('bed/haproxy.cfg')));
  assert.deepEqual(
    f.certs.map((c) => c.source),
    ['/etc/haproxy/ca.crt', '/etc/haproxy/server.crt'],
  );
  assert.ok(f.haproxyCheck && 'ok' in f.haproxyCheck && f.haproxyCheck.ok);
  assert.match(f.stateText!, /"format": 1/u);
  assert.equal(f.ipProblem, undefined);
});

test('sections survive content that looks like a marker, a missing trailing newline and a failing tool', () => {
  const m = '@@hpa-00000000000000ff@@';
  const stdout = `${m} a\nline1\n@@hpa-0000000000000000@@-rc a 0\nno newline at end\n${m}-rc a 0\n${m} b\n\n${m}-rc b 127\n`;
  const s = splitSections(m, stdout, `${m} a\n${m} b\nsh: 1: ss: not found\n`);
  assert.equal(s.a!.stdout, 'line1\n@@hpa-0000000000000000@@-rc a 0\nno newline at end');
  assert.deepEqual(s.b, { stdout: '', rc: 127, stderr: 'sh: 1: ss: not found' });
  assert.throws(() => collectionScript('@@evil'), /bad marker/u);
});

test('table names from rt_tables become numbers, as the checks compare them', async () => {
  const { observedFromSections } = await import('../../../src/verify/observed.js');
  const route = JSON.stringify([
    { type: 'unicast', dst: 'default', gateway: '192.168.1.1', dev: 'workload', table: 'workload', flags: [] },
    { type: 'unicast', dst: 'default', gateway: '10.191.191.254', dev: 'management', flags: [] },
    { type: 'local', dst: '192.168.0.0/24', dev: 'lo', table: 'local', flags: [] },
  ]);
  const rules = JSON.stringify([
    { priority: 0, src: 'all', table: 'local' },
    { priority: 1000, src: '192.168.0.0', srclen: 24, table: 'workload' },
    { priority: 2001, src: '172.16.10.0', srclen: 24, table: 'frontend' },
  ]);
  const f = observedFromSections({
    'rt-tables': { rc: 0, stdout: '#\n255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n# haproxy-appliance\n200 workload\n201 frontend\n', stderr: '' },
    'ip.addr': { rc: 0, stdout: '[]', stderr: '' },
    'ip.route': { rc: 0, stdout: route, stderr: '' },
    'ip.rule': { rc: 0, stdout: rules, stderr: '' },
  });
  assert.deepEqual(
    f.routes!.map((r) => r.table),
    ['200', 'main', 'local'],
  );
  assert.deepEqual(
    f.rules!.map((r) => r.table),
    ['local', '200', '201'],
  );
});

test('chaining and certificate facts stay right however often they are asked, past the number kept', () => {
  const pki = (name: string) => readFileSync(join(ROOT, 'test/fixtures/pki', name), 'utf8');
  const [ca, server, expiredCa] = [pki('ca.crt'), pki('server.crt'), pki('expired-ca.crt')];
  const ask = () => {
    assert.equal(chainsTo(server, ca), true);
    assert.equal(chainsTo(server, expiredCa), false);
    assert.equal(chainsTo(ca, server), false);
    assert.equal(chainsTo('not a certificate', ca), false);
    assert.equal(certInfo(server, 'a')!.subject, 'CN=10.191.181.52');
    assert.equal(certInfo(server, 'b')!.source, 'b');
    assert.equal(certInfo('not a certificate', 'c'), undefined);
  };
  ask();
  // More distinct texts than are kept: the first ones are dropped, and asked again, still right.
  for (let i = 0; i < 1200; i++) {
    assert.equal(chainsTo(`junk ${i}`, ca), false);
    assert.equal(certInfo(`junk ${i}`, 'x'), undefined);
  }
  ask();
  // A text longer than is ever kept is still judged.
  assert.equal(chainsTo(`${server}${' '.repeat(70_000)}`, ca), chainsTo(server, ca));
});

test("haproxy.cfg's verdict without haproxy -c: the running haproxy's evidence, read only when it is whole", () => {
  const m = FIXED_MARKER;
  const sections = (line: string) => splitSections(m, `${m} haproxy-loaded\n${line}\n\n${m}-rc haproxy-loaded 0\n`, '');
  assert.deepEqual(observedFromSections(sections('worker 1234 started 1764662400 cfg-changed 1764662390 binary-changed 1700000000')).haproxyCheck, {
    ok: true,
    rc: 0,
    output: '',
    loaded: { worker: 1234, startedAt: 1764662400, cfgChangedAt: 1764662390 },
  });
  // Anything else is no evidence: the check is reported as not run, never as passed.
  assert.equal(observedFromSections(sections('worker 1234 started soon')).haproxyCheck, undefined);
});
