/**
 * Reruns never break a running load balancer. A real haproxy runs the agent's haproxy.cfg (with
 * the Data Plane API's frontend on a VIP) in a network namespace while a client in another
 * namespace keeps connecting to the VIP. Provision reruns with an unrelated change (nothing for
 * haproxy: no reload at all) and with a userlist change (a new haproxy.cfg, then the reload the
 * haproxy unit does: USR2 to the master). Not one connection may fail, and the API's sections
 * must be intact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canRunNetworkBeds, createTestBed } from '../../harness/netns.js';
import { cli } from '../../harness/cli.js';
import { envFile, withSandbox } from '../../harness/sandbox.js';
import { fixture } from '../../harness/ovf.js';

const can = await canRunNetworkBeds();
const CA = { 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': fixture('pki/ca.key') };
const VIP = '192.168.0.1';
const API_FRONTEND = `
frontend domain-c50:kube-system-kube-apiserver-lb-svc
  mode tcp
  bind ${VIP}:6443 name domain-c50:kube-system-kube-apiserver-lb-svc-${VIP}:kube-apiserver
  option tcplog
  use_backend domain-c50:kube-system-kube-apiserver-lb-svc-kube-apiserver if { dst_port 6443 }

backend domain-c50:kube-system-kube-apiserver-lb-svc-kube-apiserver
  mode tcp
  balance roundrobin
  server cp-0 127.0.0.1:9000 weight 100
`;

/** Connects to VIP:6443 over and over for `ms`, one connection at a time; prints the counts. */
const LOAD = `
const net = require('node:net');
const [host, ms] = process.argv.slice(1);
const end = Date.now() + Number(ms);
let ok = 0, failed = 0; const errors = {};
function one() {
  if (Date.now() > end) { process.stdout.write(JSON.stringify({ ok, failed, errors }) + '\\n'); return; }
  const s = net.connect({ host, port: 6443 });
  let got = '';
  const fail = (e) => { failed++; errors[e] = (errors[e] || 0) + 1; s.destroy(); setImmediate(one); };
  const t = setTimeout(() => fail('timeout'), 3000);
  s.on('data', (d) => { got += d; });
  s.on('error', (e) => { clearTimeout(t); fail(e.code || e.message); });
  s.on('end', () => { clearTimeout(t); if (got.includes('remoteAddress')) { ok++; setImmediate(one); } else fail('empty reply'); });
}
one();
`;

test(
  'a rerun under load: zero failed connections, listeners never closed, API sections intact',
  { skip: can.ok ? false : can.reason, timeout: 120_000 },
  async () => {
    const bed = createTestBed();
    await withSandbox(async (root, dir) => {
      let haproxy: ReturnType<typeof spawn> | undefined;
      try {
        assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA, 'a.xml')]).code, 0);
        const cfg = join(root, 'etc/haproxy/haproxy.cfg');
        appendFileSync(cfg, API_FRONTEND);

        await bed.addNamespace('lb');
        await bed.addNamespace('client');
        await bed.link('lb', 'workload', 'client', 'eth0', { upA: true });
        await bed.addr('lb', 'workload', '10.77.0.1/24');
        await bed.addr('client', 'eth0', '10.77.0.2/24');
        await bed.route('client', `${VIP}/32 via 10.77.0.1`);
        await bed.ip('lb', ['route', 'add', 'local', '192.168.0.0/24', 'dev', 'lo', 'table', 'local']); // AnyIP, as the agent's lo unit gives
        const backend = await bed.listen('lb', '127.0.0.1', 9000, { maxLifetimeMs: 110_000 });

        // haproxy as the unit runs it (master-worker), with a private /run for its sockets.
        haproxy = spawn(
          'ip',
          [
            'netns',
            'exec',
            bed.nsName('lb'),
            'unshare',
            '--mount',
            'sh',
            '-c',
            `mount --make-rprivate / && mount -t tmpfs tmpfs /run && exec haproxy -W -db -f '${cfg}'`,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let log = '';
        haproxy.stdout!.on('data', (d) => (log += d));
        haproxy.stderr!.on('data', (d) => (log += d));
        for (let i = 0; i < 100 && !(await bed.connect('client', VIP, 6443, { timeoutMs: 500 })).ok; i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok((await bed.connect('client', VIP, 6443)).ok, `haproxy serves the VIP: ${log}`);

        const load = bed.exec('client', ['node', '-e', LOAD, VIP, '6000']);
        await new Promise((r) => setTimeout(r, 800));
        // An unrelated change: haproxy.cfg stays byte for byte, so nothing reloads.
        const before = readFileSync(cfg, 'utf8');
        const unrelated = cli(['provision', '--root', root, '--ovf-env', envFile(dir, { ...CA, 'network.nameservers': '10.170.16.99' }, 'b.xml')]);
        assert.equal(unrelated.code, 0, unrelated.stderr);
        assert.equal(readFileSync(cfg, 'utf8'), before, 'haproxy.cfg untouched by an unrelated change');
        // A change haproxy must see: the Data Plane API password. New file, then the unit's reload.
        const related = cli([
          'provision',
          '--root',
          root,
          '--ovf-env',
          envFile(dir, { ...CA, 'network.nameservers': '10.170.16.99', 'loadbalance.haproxy_pwd': 'rotated-api-password' }, 'c.xml'),
        ]);
        assert.equal(related.code, 0, related.stderr);
        const after = readFileSync(cfg, 'utf8');
        assert.notEqual(after, before);
        assert.ok(after.endsWith(API_FRONTEND), 'the API sections are intact, byte for byte');
        process.kill(haproxy.pid!, 'SIGUSR2');
        await new Promise((r) => setTimeout(r, 1500));
        process.kill(haproxy.pid!, 'SIGUSR2'); // and once more, for good measure

        const counts = JSON.parse((await load).stdout) as { ok: number; failed: number; errors: Record<string, number> };
        assert.ok(counts.ok > 100, `the load ran: ${JSON.stringify(counts)}`);
        assert.equal(counts.failed, 0, `no connection failed: ${JSON.stringify(counts.errors)}\n${log}`);
        assert.match(log, /Reexecuting Master process|Loading success/, 'haproxy did reload');
        assert.ok(backend.connections.length > 100);
      } finally {
        if (haproxy?.pid) {
          haproxy.kill('SIGTERM');
          await new Promise((r) => (haproxy!.exitCode !== null ? r(undefined) : haproxy!.once('exit', r)));
        }
        await bed.cleanup();
      }
    });
  },
);
