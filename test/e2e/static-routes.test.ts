/**
 * `network.static_routes` and `network.search_domains` on the booted appliance (the e2e image
 * under systemd-nspawn: real systemd, networkd, resolved, the agent as installed), one boot:
 * a second router on the workload network alone reaches an isolated network 10.20.0.0/16 (the
 * seed router 192.168.1.1 knows no route there). The appliance is provisioned at first boot with
 * a route to it and two search domains; the route is in table 200 and in main, resolv.conf's
 * search line holds the domains, real TCP works both ways (the appliance reaches a host there;
 * that host reaches a VIP and gets its reply), and `verify` from the workstation is green with
 * route.static and dns.search passing. Then the route is deleted from table 200 and `verify`
 * fails, naming it. Last, the properties change and `provision` runs again inside the appliance:
 * the old route and domain go, the new ones come, and `verify` is green again.
 *
 * Root on Linux. The container base is built once (debootstrap) and cached.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ApplianceBed, OVF_ENV_INSIDE, seedEnvironment } from '../harness/appliance-image.js';
import { verdict } from '../harness/e2e-verdict.js';
import { checkReadiness } from '../harness/image.js';
import { assertNothingLeft } from '../harness/leak-guard.js';
import { BRIDGE } from '../harness/seed-lan.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the booted appliance needs root on Linux (CI runs it as root)' : false;

const ISO_HOST = '10.20.0.10';

test(
  'static routes and search domains on the booted appliance: routes in place, resolv.conf search line, verify green; a deleted route fails verify by name',
  { skip, timeout: 10 * 60_000 },
  async (t) => {
    const ready = await checkReadiness({ install: true });
    assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
    const app = new ApplianceBed();
    const t0 = performance.now();
    try {
      await app.prepareImage(() => undefined);
      await app.wire({ routerAdvertisements: false });
      // The second router on the workload network (192.168.1.254), and the isolated network behind it.
      const b = app.bed;
      await b.addNamespace('wr2');
      await b.addNamespace('wiso');
      await b.sysctl('wr2', 'net.ipv4.conf.all.rp_filter', '1');
      await b.sysctl('wr2', 'net.ipv4.conf.default.rp_filter', '1');
      await b.enableForwarding('wr2');
      const { b: port } = await b.link('wr2', 'wl', 'router', undefined, { upA: true });
      await b.ip('router', ['link', 'set', 'dev', port, 'master', BRIDGE.workload]);
      await b.addr('wr2', 'wl', '192.168.1.254/16');
      await b.link('wr2', 'iso', 'wiso', 'eth0', { upA: true });
      await b.addr('wr2', 'iso', '10.20.0.1/16');
      await b.addr('wiso', 'eth0', `${ISO_HOST}/16`);
      await b.up('wiso', 'eth0');
      await b.route('wiso', 'default via 10.20.0.1');

      await app.setEnvironment(
        seedEnvironment({ 'network.static_routes': '10.20.0.0/16 via 192.168.1.254', 'network.search_domains': 'Corp.Example.com, lab.example' }),
      );
      const boot = await app.boot();
      assert.equal(boot.agentResult, 'active/success', boot.agentLog);
      assert.equal(boot.systemState, 'running', JSON.stringify(boot.failedUnits));

      // The route, in table 200 (replies) and in main (what the appliance opens); no rule added.
      const show = async (...args: string[]) => (await app.mustInside(['ip', 'route', 'show', ...args])).stdout.trim();
      assert.equal(await show('10.20.0.0/16'), '10.20.0.0/16 via 192.168.1.254 dev workload proto static');
      assert.equal(await show('table', '200', '10.20.0.0/16'), '10.20.0.0/16 via 192.168.1.254 dev workload proto static');
      assert.equal(await show('table', '201', '10.20.0.0/16'), '');
      // The search domains, as resolved writes them from the management unit's Domains=.
      const resolv = (await app.mustInside(['cat', '/etc/resolv.conf'])).stdout;
      assert.match(resolv, /^search corp\.example\.com lab\.example$/mu, resolv);
      assert.match(resolv, /^nameserver 127\.0\.0\.53$/mu, 'the resolved stub');

      // Real traffic both ways: the appliance reaches the isolated host; the isolated host reaches a VIP.
      const iso = await b.listen('wiso', ISO_HOST, 6443);
      const vip = await b.listen('appliance', '192.168.0.7', 7443);
      try {
        const out = await b.connect('appliance', ISO_HOST, 6443);
        assert.equal(out.ok, true, out.error);
        assert.equal(out.reply?.remoteAddress, '192.168.1.2', 'from the workload address, through 192.168.1.254');
        const back = await b.connect('wiso', '192.168.0.7', 7443);
        assert.equal(back.ok, true, back.error);
        assert.deepEqual([back.reply?.localAddress, back.reply?.remoteAddress], ['192.168.0.7', ISO_HOST]);
      } finally {
        await Promise.all([iso.close(), vip.close()]);
      }

      const green = await app.verify();
      const v = verdict(green.report);
      assert.ok(v.green, `verify is green: ${v.unexpected.join('; ')}`);
      const checks = green.report.hosts[0]!.checks;
      const one = (id: string) => checks.filter((c) => c.id === id).map((c) => [c.status, c.subject, c.message]);
      assert.deepEqual(one('route.static'), [['pass', '10.20.0.0/16', '10.20.0.0/16 via 192.168.1.254 dev workload in table 200 and the main table']]);
      assert.deepEqual(one('dns.search'), [['pass', undefined, '/etc/resolv.conf has search corp.example.com lab.example (network.search_domains)']]);

      // An admin (or a script) deletes the route from table 200: verify fails, naming it.
      await app.mustInside(['ip', 'route', 'del', '10.20.0.0/16', 'via', '192.168.1.254', 'dev', 'workload', 'table', '200']);
      const red = await app.verify();
      assert.equal(red.exitCode, 1, 'a failed check is exit 1');
      const failed = red.report.hosts[0]!.checks.filter((c) => c.status === 'fail' && c.id === 'route.static');
      assert.deepEqual(
        failed.map((c) => [c.subject, c.message]),
        [['10.20.0.0/16', '10.20.0.0/16 via 192.168.1.254 dev workload (network.static_routes) is missing: table 200 lacks it']],
      );
      assert.match(failed[0]!.remedy ?? '', /ip route replace 10\.20\.0\.0\/16 via 192\.168\.1\.254 dev workload table 200/u);
      assert.deepEqual(
        verdict(red.report).unexpected.map((u) => u.split(':')[0]),
        ['route.static 10.20.0.0/16'],
        'nothing else fails',
      );
      // Day 2: the admin changes the properties and provision runs again: the old route and
      // domain go, the new ones come, and verify is green again.
      await app.setEnvironment(seedEnvironment({ 'network.static_routes': '10.21.0.0/16 via 192.168.1.254', 'network.search_domains': 'lab.example' }));
      const rerun = await app.mustInside(['haproxy-appliance', 'provision', '--ovf-env', OVF_ENV_INSIDE]);
      assert.match(rerun.stdout, /^updated \/etc\/systemd\/network\/20-workload\.network$/mu, rerun.stdout);
      assert.equal(await show('10.20.0.0/16'), '', 'the old route is gone from main');
      assert.equal(await show('table', '200', '10.20.0.0/16'), '');
      assert.equal(await show('10.21.0.0/16'), '10.21.0.0/16 via 192.168.1.254 dev workload proto static');
      assert.equal(await show('table', '200', '10.21.0.0/16'), '10.21.0.0/16 via 192.168.1.254 dev workload proto static');
      // resolved takes the new Domains= from networkd asynchronously (networkd tells it over D-Bus
      // when the link is reconfigured): wait for it, bounded, before verifying.
      const tr = performance.now();
      let resolv2 = '';
      while (!/^search lab\.example$/mu.test(resolv2) && performance.now() - tr < 15_000) {
        resolv2 = (await app.mustInside(['cat', '/etc/resolv.conf'])).stdout;
        if (!/^search lab\.example$/mu.test(resolv2)) await new Promise((r) => setTimeout(r, 100));
      }
      const resolvMs = Math.round(performance.now() - tr);
      assert.match(resolv2, /^search lab\.example$/mu, 'resolved took the new search domain');
      const again = await app.verify();
      assert.ok(verdict(again.report).green, `verify is green after the change: ${verdict(again.report).unexpected.join('; ')}`);
      assert.deepEqual(
        again.report.hosts[0]!.checks.filter((c) => c.id === 'route.static' || c.id === 'dns.search').map((c) => [c.id, c.status, c.subject]),
        [
          ['route.static', 'pass', '10.21.0.0/16'],
          ['dns.search', 'pass', undefined],
        ],
      );
      t.diagnostic(
        `boot ${Math.round(boot.bootedMs)} ms, provision --boot ${Math.round(boot.agentMs)} ms; rerun: resolv.conf's search line ${resolvMs} ms after provision returned; whole test ${Math.round(performance.now() - t0)} ms`,
      );
    } finally {
      const notes = await app.cleanup();
      assert.deepEqual(
        notes.filter((n) => !n.startsWith('logs kept')),
        [],
        'cleanup had nothing to report',
      );
    }
    await assertNothingLeft({ bedIds: [app.bed.id] });
    assert.equal(existsSync(app.work), false, `${app.work} is removed`);
  },
);
