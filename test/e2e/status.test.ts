/**
 * Issue #13, section 1, on the booted appliance (the e2e image under systemd-nspawn: real
 * systemd, the first-boot unit, haproxy.service, systemd-networkd, the agent as installed):
 * `haproxy-appliance status --wait 60` after the first boot says ok, with what the first run
 * changed, the versions and the services' states; a rerun with a bad property is refused, and
 * then status says failed naming the property (exit 1), and `verify` from the workstation FAILs
 * `provision.last-run` naming it. One boot.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { VERSION } from '../../src/cli/version.js';
import { ApplianceBed, OVF_ENV_INSIDE, seedEnvironment } from '../harness/appliance-image.js';
import { checkReadiness } from '../harness/image.js';
import { assertNothingLeft } from '../harness/leak-guard.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the booted appliance needs root on Linux (CI runs it as root)' : false;

interface StatusJson {
  status: string;
  exitCode: number;
  lastRun?: { outcome: string; source?: string; version?: string; changes?: { action: string; target: string }[]; problems?: { at: string; code: string }[] };
  versions: { agent: string; haproxy?: string; dataplaneapi?: string };
  services: Record<string, string>;
  notes: string[];
}

test(
  'status on the booted appliance: ok with what changed, versions and services; after a bad property, failed naming it, and verify FAILs',
  { skip, timeout: 10 * 60_000 },
  async (t) => {
    const ready = await checkReadiness({ install: true });
    assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const app = new ApplianceBed();
    let ok = false;
    try {
      await app.prepareImage(log);
      await app.wire();
      await app.setEnvironment(seedEnvironment());
      const boot = await app.boot();
      assert.equal(boot.agentResult, 'active/success', boot.agentLog);

      const t0 = performance.now();
      const s = await app.inside(['haproxy-appliance', 'status', '--wait', '60', '--json'], { timeoutMs: 90_000 });
      t.diagnostic(`status --wait took ${Math.round(performance.now() - t0)} ms after the boot`);
      assert.equal(s.exitCode, 0, `${s.stdout}${s.stderr}`);
      const j = JSON.parse(s.stdout) as StatusJson;
      assert.equal(j.status, 'ok');
      assert.equal(j.lastRun?.outcome, 'applied');
      assert.match(j.lastRun?.source ?? '', /ovf-env\.xml/u);
      assert.equal(j.lastRun?.version, VERSION);
      // The first boot wrote the appliance's files and renamed its NICs by MAC.
      const changes = j.lastRun?.changes ?? [];
      assert.ok(
        changes.some((c) => c.action === 'create' && c.target === '/etc/systemd/network/20-management.network'),
        JSON.stringify(changes),
      );
      assert.ok(
        changes.some((c) => c.action === 'rename' && / to management$/u.test(c.target)),
        JSON.stringify(changes),
      );
      assert.equal(j.versions.agent, VERSION);
      assert.match(j.versions.haproxy ?? '', /^2\.\d+\.\d+/u, 'haproxy -v');
      assert.equal(j.services.haproxy, 'active (running)');
      assert.equal(j.services['systemd-networkd'], 'active (running)');
      assert.ok(j.services.dataplaneapi !== undefined && j.services.dataplaneapi !== 'unknown', `dataplaneapi: ${j.services.dataplaneapi}`);
      // The image has no Data Plane API binary: said, not guessed.
      if (j.versions.dataplaneapi === undefined)
        assert.ok(
          j.notes.some((n) => /Data Plane API is not installed/u.test(n)),
          j.notes.join('\n'),
        );
      const text = await app.inside(['haproxy-appliance', 'status']);
      assert.equal(text.exitCode, 0, text.stderr);
      for (const line of text.stdout.split('\n')) t.diagnostic(line);
      assert.match(
        text.stdout,
        /^status: ok\nlast run: \S+ \(agent [^)]+\): applied the configuration\nOVF environment: .*ovf-env\.xml\nchanged: \d+ items\n/u,
      );
      assert.match(text.stdout, /\nservices: haproxy active \(running\), dataplaneapi .+, systemd-networkd active \(running\)\n/u);

      // A run in progress, as the agent's own: a rerun that rewrites haproxy.cfg holds the run
      // lock while it waits for haproxy.cfg's lock, held here as the Data Plane API holds it while
      // it saves (until /var/tmp/release appears). Status says running (exit 3); `--wait` waits
      // and then says ok, with what the rerun changed.
      const holder = app.inside(
        [
          'flock',
          '/etc/haproxy/haproxy.cfg',
          'sh',
          '-c',
          'touch /var/tmp/held; for i in $(seq 1200); do [ -e /var/tmp/release ] && exit 0; sleep 0.1; done; exit 1',
        ],
        { timeoutMs: 180_000 },
      );
      const released = () => app.inside(['touch', '/var/tmp/release']);
      try {
        // flock(1) starts sh once it holds the lock; sh says so first.
        for (let i = 0; i < 300 && !existsSync(join(app.root, 'var/tmp/held')); i++) await sleep(100);
        assert.ok(existsSync(join(app.root, 'var/tmp/held')), "haproxy.cfg's lock is held");
        await app.setEnvironment(seedEnvironment({ 'loadbalance.haproxy_pwd': 'rotated-api-password' }));
        const rerun = app.inside(['haproxy-appliance', 'provision', '--ovf-env', OVF_ENV_INSIDE], { timeoutMs: 180_000 });
        let running: StatusJson | undefined;
        for (let i = 0; i < 150; i++) {
          const r = await app.inside(['haproxy-appliance', 'status', '--json']);
          const j = JSON.parse(r.stdout) as StatusJson & { running?: string[] };
          if (j.status === 'running') {
            assert.equal(r.exitCode, 3);
            running = j;
            break;
          }
          await sleep(100);
        }
        assert.ok(running, 'status said running while the rerun held the lock');
        assert.match((running as { running?: string[] }).running?.[0] ?? '', /^a provision run holds the run lock \(pid \d+\)$/u);
        const bounded = await app.inside(['haproxy-appliance', 'status', '--wait', '1']);
        assert.equal(bounded.exitCode, 3, `${bounded.stdout}${bounded.stderr}`);
        assert.match(bounded.stdout, /^status: running\n/u);
        // --wait from before the run ends (its waiting line written to a file the test reads), then the release.
        const waiting = app.inside(['sh', '-c', 'haproxy-appliance status --wait 120 2>/var/tmp/status-wait.err'], { timeoutMs: 180_000 });
        const errFile = join(app.root, 'var/tmp/status-wait.err');
        for (let i = 0; i < 300 && !(existsSync(errFile) && readFileSync(errFile, 'utf8').includes('\n')); i++) await sleep(100);
        assert.match(readFileSync(errFile, 'utf8'), /^waiting for the provision run to finish \(a provision run holds the run lock \(pid \d+\)\)/u);
        await released();
        const done = await rerun;
        assert.equal(done.exitCode, 0, `${done.stdout}${done.stderr}`);
        const w = await waiting;
        assert.equal(w.exitCode, 0, `${w.stdout}${w.stderr}`);
        assert.match(w.stdout, /^status: ok\n/u);
        assert.match(w.stdout, /\n {2}updated \/etc\/haproxy\/haproxy\.cfg\n/u);
      } finally {
        await released();
        await holder;
      }

      // A rerun with a bad property: refused (exit 2), recorded; status says failed naming it.
      await app.setEnvironment(seedEnvironment({ 'network.nameservers': '1.1.1.x' }));
      const rerun = await app.inside(['haproxy-appliance', 'provision', '--ovf-env', OVF_ENV_INSIDE], { timeoutMs: 120_000 });
      assert.equal(rerun.exitCode, 2, `${rerun.stdout}${rerun.stderr}`);
      const f = await app.inside(['haproxy-appliance', 'status', '--wait', '60']);
      assert.equal(f.exitCode, 1, `${f.stdout}${f.stderr}`);
      for (const line of f.stdout.split('\n')) t.diagnostic(line);
      assert.match(f.stdout, /^status: failed\nlast run: .*: refused the OVF environment/u);
      assert.match(f.stdout, /\nerrors: 1\n {2}network\.nameservers: .* \(not-ip\)\n/u);
      const fj = JSON.parse((await app.inside(['haproxy-appliance', 'status', '--json'])).stdout) as StatusJson;
      assert.deepEqual(
        fj.lastRun?.problems?.map((p) => [p.at, p.code]),
        [['network.nameservers', 'not-ip']],
      );
      // haproxy keeps serving the last good configuration.
      assert.equal(fj.services.haproxy, 'active (running)');

      const v = await app.verify();
      assert.equal(v.exitCode, 1, v.stderr);
      const lastRun = v.report.hosts[0]?.checks.find((c) => c.id === 'provision.last-run');
      assert.equal(lastRun?.status, 'fail', JSON.stringify(lastRun));
      assert.match(lastRun?.message ?? '', /refused the OVF environment: network\.nameservers: .* \(not-ip\)/u);
      assert.match(lastRun?.remedy ?? '', /^fix the vApp property network\.nameservers/u);
      ok = true;
    } catch (e) {
      log(await app.diagnostics().catch(() => ''));
      throw e;
    } finally {
      for (const n of await app.cleanup({ keepLogs: !ok })) log(n);
    }
    await assertNothingLeft({ bedIds: [app.bed.id] });
    assert.equal(existsSync(app.work), false, `${app.work} is removed`);
  },
);
