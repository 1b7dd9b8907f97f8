/**
 * Issue #13, section 2, on the booted appliance (the e2e image under systemd-nspawn: real systemd,
 * journald, networkd, haproxy, sshd, the agent as installed): provisioned with EVERY secret
 * property set (the root password and the Data Plane API password each holding a unique marker,
 * and a CA made here, whose private key is its own marker), `haproxy-appliance support` run
 * inside the appliance and `verify --support-bundle` run from the workstation over SSH each
 * give a bundle that, unpacked, holds none of the markers, none of the key's lines and no
 * `PRIVATE KEY` anywhere; that has summary.txt first and the expected members; and that is 0600.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertNothingLeft } from '../harness/leak-guard.js';
import { checkReadiness } from '../harness/image.js';
import { ApplianceBed, seedEnvironment } from '../harness/appliance-image.js';
import { verifyFromWorkstation } from '../harness/seed-lan.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the booted appliance needs root on Linux (CI runs it as root)' : false;

/** A CA made for this run: its key is unique to it. */
function makeCa(dir: string): { crt: string; key: string } {
  const key = join(dir, 'ca.key');
  const crt = join(dir, 'ca.crt');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '30', '-subj', '/CN=Support Bundle Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], { stdio: 'ignore' }); // prettier-ignore
  return { crt: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
}

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): { path: string; data: Buffer }[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile())
    .map((path) => ({ path, data: readFileSync(path) }));
}

function unpack(archive: string, into: string): string[] {
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', archive, '-C', into]);
  return execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n');
}

test('support bundles, on the appliance and fetched over SSH, hold no secret and no private key', { skip, timeout: 10 * 60_000 }, async (t) => {
  const ready = await checkReadiness({ install: true });
  assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const app = new ApplianceBed();
  let ok = false;
  try {
    await app.prepareImage(log);
    await app.wire();
    const tag = randomBytes(6).toString('hex');
    const rootPwd = `Root-${tag}-rootpw`;
    const apiPwd = `Api-${tag}-apipw`;
    const ca = makeCa(app.work);
    const keyLines = ca.key.split('\n').filter((l) => l && !l.startsWith('-----'));
    // Every declared secret property holds a marker (the key's lines are its own).
    await app.setEnvironment(
      seedEnvironment({ 'appliance.root_pwd': rootPwd, 'loadbalance.haproxy_pwd': apiPwd, 'appliance.ca_cert': ca.crt, 'appliance.ca_cert_key': ca.key }),
    );
    const boot = await app.boot();
    assert.equal(boot.agentResult, 'active/success', boot.agentLog);
    // The appliance took the secrets: the CA is ours, the userlist has a hash.
    assert.equal(readFileSync(join(app.root, 'etc/haproxy/ca.crt'), 'utf8').trim(), ca.crt.trim());
    assert.match(readFileSync(join(app.root, 'etc/haproxy/haproxy.cfg'), 'utf8'), /^\s*user \S+ password \$/mu);

    // On the appliance, into a file: 0600, the time and size measured.
    const run = await app.inside(['haproxy-appliance', 'support', '--output', '/root/bundle.tar.gz'], { timeoutMs: 60_000 });
    assert.equal(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
    const inside = join(app.root, 'root/bundle.tar.gz');
    assert.equal(statSync(inside).mode & 0o777, 0o600);

    // From the workstation over SSH, with the marker root password.
    const dir = join(app.work, 'bundles');
    const fetched = await verifyFromWorkstation(app.bed, {
      knownHosts: app.knownHosts,
      home: app.work,
      password: rootPwd,
      timeoutS: 30,
      args: ['--support-bundle', dir],
    });
    assert.equal(fetched.exitCode, 0, `${JSON.stringify(fetched.report)}\n${fetched.stderr}`);
    const bundles = readdirSync(dir);
    assert.equal(bundles.length, 1, bundles.join(', '));
    const remote = join(dir, bundles[0]!);
    assert.equal(statSync(remote).mode & 0o777, 0o600);
    t.diagnostic(
      `support inside the appliance: ${(run.ms / 1000).toFixed(2)} s (nsenter to exit), ${statSync(inside).size} bytes; fetched over SSH: ${(fetched.ms / 1000).toFixed(2)} s, ${statSync(remote).size} bytes`,
    );

    const markers = [rootPwd, apiPwd, tag, ...keyLines, 'PRIVATE KEY'];
    for (const [label, archive] of [
      ['inside', inside],
      ['fetched', remote],
    ] as const) {
      const into = join(app.work, `unpacked-${label}`);
      const names = unpack(archive, into);
      assert.equal(names[0], 'summary.txt', `${label}: summary.txt comes first`);
      for (const want of [
        'system.json',
        'ovf-environment.txt',
        'file_var_lib_haproxy-appliance_state.json',
        'file_etc_haproxy_haproxy.cfg',
        'file_etc_haproxy_ca.crt',
        'file_etc_haproxy_server.crt',
        'file_etc_systemd_network_20-management.network',
        'cmd_ip-addr.txt',
        'cmd_ip-route.txt',
        'cmd_ip-rule.txt',
        'cmd_ss-ltnp.txt',
        'cmd_haproxy-vv.txt',
        'cmd_haproxy-c.txt',
        'journal_haproxy-appliance_boot0.txt',
        'journal_haproxy_boot0.txt',
        'journal_systemd-networkd_boot0.txt',
        'journal_sshd_boot0.txt',
      ])
        assert.ok(names.includes(want), `${label}: ${want} is in the bundle (${names.join(', ')})`);
      for (const n of names) assert.ok(!/\.key$|shadow|root-password/u.test(n), `${label}: ${n} is never collected`);
      const files = filesUnder(into);
      for (const f of files)
        for (const m of markers) assert.equal(f.data.includes(m), false, `${label}: ${f.path} holds ${m === 'PRIVATE KEY' ? m : 'a secret marker'}`);
      const summary = readFileSync(join(into, 'summary.txt'), 'utf8');
      assert.match(summary, /Last provision run: applied at /u);
      const searched = /^- secret values searched for: (.*)$/mu.exec(summary)?.[1] ?? '';
      for (const p of ['appliance.root_pwd', 'appliance.ca_cert_key', 'loadbalance.haproxy_pwd'])
        assert.ok(searched.includes(p), `${label}: summary: ${p} searched for`);
      const cfg = readFileSync(join(into, 'file_etc_haproxy_haproxy.cfg'), 'utf8');
      assert.match(cfg, /^\s*user \S+ password \[removed\]$/mu, `${label}: the userlist hash is removed, the line kept`);
      assert.match(readFileSync(join(into, 'cmd_haproxy-c.txt'), 'utf8'), /# exit 0/u, `${label}: haproxy -c ran`);
      const journal = readFileSync(join(into, 'journal_haproxy-appliance_boot0.txt'), 'utf8');
      assert.match(journal, /haproxy-appliance/u, `${label}: the agent's journal has its lines`);
      const facts = JSON.parse(readFileSync(join(into, 'system.json'), 'utf8')) as { os?: { kernel?: string }; nics?: { iface: string; mac: string }[] };
      assert.ok(facts.os?.kernel, `${label}: system facts have the kernel`);
      assert.ok(
        facts.nics?.some((n) => n.iface === 'management' && n.mac === '00:50:56:b1:20:5e'),
        `${label}: the NICs with their MACs`,
      );
      const slowest = files
        .map((f) => ({ name: f.path.slice(into.length + 1), ms: Number(/^# (?:exit 0|[^\n]*?), (\d+) ms$/mu.exec(f.data.toString('utf8'))?.[1] ?? 0) }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 4);
      const failed = summary.split('Cut, failed or left out:\n')[1]?.split('\n\n')[0]?.replaceAll('\n', '; ') ?? '';
      t.diagnostic(`${label}: slowest ${slowest.map((s) => `${s.name} ${s.ms} ms`).join(', ')}; ${failed}`);
      t.diagnostic(`${label}: ${names.length} files, ${files.reduce((n, f) => n + f.data.length, 0)} bytes unpacked`);
    }
    ok = true;
  } catch (e) {
    log(await app.diagnostics().catch(() => ''));
    throw e;
  } finally {
    const notes = await app.cleanup({ keepLogs: !ok });
    for (const n of notes) log(n);
  }
  await assertNothingLeft({ bedIds: [app.bed.id] });
  assert.equal(existsSync(app.work), false, `${app.work} is removed`);
});
