/**
 * Issue 13 §4 and §5 on the booted appliance (the e2e image under systemd-nspawn: real systemd,
 * the real sshd, the agent as installed): provisioned at its first boot with
 * appliance.ssh_authorized_keys and permit_root_login=prohibit-password (and an NTP server that
 * does not answer), `verify` from the workstation logs in with the key and is green, ssh.root-keys
 * and ssh.root-login pass; a password login as root is refused, the right password too. Root's
 * .ssh is 0700 and authorized_keys 0600. Then a rerun that must issue server.crt again decides
 * about the clock for real (timedatectl in the appliance) and backdates the certificate; and with
 * systemd-timesyncd started (its container conditions lifted) and the NTP server unreachable,
 * such a rerun waits its 5 s bound, warns (time-not-synchronized) and makes the certificate.
 *
 * Needs root and Linux (CI runs it as root); one boot.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertNothingLeft } from '../harness/leak-guard.js';
import { checkReadiness } from '../harness/image.js';
import { ApplianceBed, OVF_ENV_INSIDE, seedEnvironment } from '../harness/appliance-image.js';
import { verifyFromWorkstation } from '../harness/seed-lan.js';
import { verdict, type VerifyRun } from '../harness/e2e-verdict.js';
import { SEED_PROPERTIES } from '../harness/ovf.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the booted appliance needs root on Linux (CI runs it as root)' : false;

test(
  'root logs in with the key of appliance.ssh_authorized_keys; prohibit-password refuses passwords; certificates are backdated',
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
      // The admin's key pair, on the workstation (the bed's work folder, removed by cleanup).
      const key = join(app.work, 'admin_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin@workstation', '-f', key]);
      const pub = readFileSync(`${key}.pub`, 'utf8').trim();
      await app.setEnvironment(
        seedEnvironment({
          'appliance.ssh_authorized_keys': pub,
          'appliance.permit_root_login': 'prohibit-password',
          // No NTP server answers in the bed: the boot's run must not wait for one.
          'network.ntp_servers': '192.0.2.123',
        }),
      );
      const boot = await app.boot();
      assert.equal(boot.agentResult, 'active/success', boot.agentLog);
      assert.equal(boot.systemState, 'running');
      // The boot's run makes the certificates without waiting for NTP (timesyncd starts after it).
      assert.doesNotMatch(boot.agentLog, /synchronised by NTP|time-not-synchronized/u);
      assert.match(boot.agentLog, /the certificates made now are valid from 24 h before this clock/u);

      const base = { knownHosts: app.knownHosts, home: app.work, password: SEED_PROPERTIES['appliance.root_pwd']!, timeoutS: 30 };
      const withKey: VerifyRun = await verifyFromWorkstation(app.bed, { ...base, identity: key });
      const v = verdict(withKey.report);
      assert.ok(v.green, `verify with the key is not green:\n${v.unexpected.join('\n')}`);
      const check = (id: string) => withKey.report.hosts[0]!.checks.find((c) => c.id === id)!;
      assert.equal(check('ssh.root-keys').status, 'pass', check('ssh.root-keys').message);
      assert.match(
        check('ssh.root-keys').message,
        /holds the 1 key of appliance\.ssh_authorized_keys .*\/root\/\.ssh 700, authorized_keys 600, owned by root/u,
      );
      assert.equal(check('ssh.root-login').status, 'pass', check('ssh.root-login').message);
      assert.match(check('ssh.root-login').message, /PermitRootLogin is prohibit-password/u);
      t.diagnostic(`verify with the key: green in ${(withKey.ms / 1000).toFixed(1)} s`);

      // The seed's root password is set (appliance.root_pwd), and refused: keys only.
      const withPassword = await verifyFromWorkstation(app.bed, base);
      assert.equal(withPassword.exitCode, 2);
      assert.equal(withPassword.report.hosts[0]!.error?.kind, 'auth', JSON.stringify(withPassword.report.hosts[0]!.error));

      const stat = await app.mustInside(['stat', '-c', '%a %U %n', '/root/.ssh', '/root/.ssh/authorized_keys']);
      assert.equal(stat.stdout.trim(), '700 root /root/.ssh\n600 root /root/.ssh/authorized_keys');

      // A rerun that must issue server.crt again: on the running system the clock decision is
      // real (timedatectl: systemd-timesyncd does not run in a container, so nothing to wait for).
      await app.mustInside(['rm', '/etc/haproxy/server.crt']);
      const rerun = await app.inside(['haproxy-appliance', 'provision', '--ovf-env', OVF_ENV_INSIDE], { timeoutMs: 120_000 });
      assert.equal(rerun.exitCode, 0, `${rerun.stdout}\n${rerun.stderr}`);
      assert.match(
        rerun.stderr,
        /note: (systemd-timesyncd is not running, so the certificates are made without waiting for NTP|the clock is synchronised by NTP)/u,
      );
      const dates = await app.mustInside(['openssl', 'x509', '-noout', '-startdate', '-in', '/etc/haproxy/server.crt']);
      const from = Date.parse(/notBefore=(.*)/u.exec(dates.stdout)![1]!);
      const inside = Number((await app.mustInside(['date', '+%s'])).stdout.trim()) * 1000;
      assert.ok(
        inside - from >= 24 * 3600_000 && inside - from < 24 * 3600_000 + 600_000,
        `notBefore ${new Date(from).toISOString()} is 24 h before the appliance's clock`,
      );

      // With systemd-timesyncd running (a drop-in lifts its container conditions; it cannot set
      // this clock, and 192.0.2.123 never answers anyway): the rerun waits its bound for NTP,
      // warns, and makes the certificate all the same. The real timedatectl answers the probe.
      await app.mustInside(['mkdir', '-p', '/run/systemd/system/systemd-timesyncd.service.d']);
      await app.mustInside(['sh', '-c', 'printf "[Unit]\\nConditionVirtualization=\\n" > /run/systemd/system/systemd-timesyncd.service.d/test.conf']);
      await app.mustInside(['systemctl', 'daemon-reload']);
      await app.mustInside(['systemctl', 'start', 'systemd-timesyncd.service']);
      const ntp = await app.mustInside(['timedatectl', 'show', '-p', 'NTP', '-p', 'NTPSynchronized']);
      assert.match(ntp.stdout, /^NTP=yes$/mu);
      assert.match(ntp.stdout, /^NTPSynchronized=no$/mu);
      await app.mustInside(['rm', '/etc/haproxy/server.crt']);
      const waited = await app.inside(['haproxy-appliance', 'provision', '--json', '--ovf-env', OVF_ENV_INSIDE], { timeoutMs: 120_000 });
      assert.equal(waited.exitCode, 0, `${waited.stdout}\n${waited.stderr}`);
      const doc = JSON.parse(waited.stdout) as { warnings: { at: string; code: string; message: string }[]; changed: { path: string }[] };
      const w = doc.warnings.find((x) => x.code === 'time-not-synchronized');
      assert.equal(w?.at, 'network.ntp_servers', JSON.stringify(doc.warnings));
      assert.match(w.message, /not synchronised by NTP within 5\.\d s; the certificates are made now anyway/u);
      assert.ok(
        doc.changed.some((c) => c.path === '/etc/haproxy/server.crt'),
        'server.crt was made after the wait',
      );
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
  },
);
