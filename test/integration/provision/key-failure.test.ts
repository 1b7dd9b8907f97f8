/**
 * A failure to make key material must not lock the admin out (issue #9, class 7): when OpenSSL
 * fails, the run still plans and applies everything that does not need the new keys (the network
 * units, haproxy.cfg, the sshd drop-in, the root password, the Data Plane API's unit), leaves every
 * PKI file exactly as it was (or absent), and exits 1 naming the step and OpenSSL's reason; the
 * next run makes the keys.
 *
 * The CLI tests put a failing `openssl` wrapper first on PATH (the real haproxy still checks
 * haproxy.cfg). The live-step test runs a real plan's steps through the real runner with EVERY
 * program a wrapper alone on PATH (the pattern of slow-steps.test.ts): nothing real (chpasswd,
 * systemctl, ip, hostname, vmtoolsd) runs on this machine, and the test asserts that first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { cli, type Run } from '../../harness/cli.js';
import { envFile, withSandbox } from '../../harness/sandbox.js';
import { runWithWrappers } from '../../harness/wrapped-actions.js';
import { SEED_MACS, SEED_PROPERTIES, fixture } from '../../harness/ovf.js';
import { validateProperties } from '../../../src/config/validate.js';
import { planAppliance } from '../../../src/plan/appliance.js';
import type { ApplianceFacts } from '../../../src/facts/types.js';
import { computeChanges } from '../../../src/apply/apply.js';
import { liveActions, type LiveAction } from '../../../src/apply/live.js';
import type { LiveContext } from '../../../src/facts/types.js';
import { decidePki, keptPki } from '../../../src/plan/pki.js';
import { generateCa, issueServerCert } from '../../../src/facts/keys.js';
import { serverSans } from '../../../src/plan/certificates.js';
import { PKI_PATHS, STATE_FILE } from '../../../src/appliance/paths.js';

const OPENSSL_REASON = 'openssl: RAND_bytes: entropy source failure (simulated)';
const PKI_FILES = Object.values(PKI_PATHS);
/** What must be written whatever happens to the keys (a sample of each kind). */
const ACCESS_AND_NETWORK = [
  '/etc/ssh/sshd_config.d/50-haproxy-appliance.conf',
  '/etc/haproxy/haproxy.cfg',
  '/etc/systemd/network/20-management.network',
  '/etc/systemd/network/10-management.link',
  '/etc/systemd/system/dataplaneapi.service',
  '/etc/hostname',
  STATE_FILE,
];

const at = (root: string, path: string) => join(root, path);

/**
 * A folder holding one `openssl` that fails the way a broken one does (or, `killed`, is ended by
 * SIGKILL, as the OOM killer ends it in a small VM); put it first on PATH.
 */
function failingOpenssl(dir: string, match = '*', how: 'exit' | 'killed' = 'exit'): string {
  const bin = join(dir, 'failing-openssl');
  mkdirSync(bin);
  // `match`: which openssl command lines fail (shell case pattern); the others run the real one.
  const real = execFileSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).trim();
  const fail = how === 'exit' ? `echo '${OPENSSL_REASON}' >&2; exit 1` : 'kill -KILL $$';
  writeFileSync(
    join(bin, 'openssl'),
    `#!/bin/sh
case "$*" in ${match}) ${fail} ;; esac
exec '${real}' "$@"
`,
  );
  chmodSync(join(bin, 'openssl'), 0o755);
  return bin;
}

function provision(root: string, env: string, pathFirst?: string): Run {
  return cli(['provision', '--root', root, '--ovf-env', env, '--json'], {
    ...(pathFirst && { env: { PATH: `${pathFirst}:${process.env.PATH}` } }),
    timeoutMs: 120_000,
  });
}

interface JsonDoc {
  ok: boolean;
  pki?: { failed: { step: string; reason: string; timedOut: boolean } };
  changed: { path: string; action: string }[];
  unchanged: string[];
}
const doc = (r: Run) => JSON.parse(r.stdout) as JsonDoc;

/** Each PKI file's content, or null when absent. */
const pkiSnapshot = (root: string) => Object.fromEntries(PKI_FILES.map((p) => [p, existsSync(at(root, p)) ? readFileSync(at(root, p), 'utf8') : null]));

/** Everything under the state folder (keys are made in its pki-work subfolder: nothing may stay there). */
const stateFolder = (root: string) => (existsSync(at(root, '/var/lib/haproxy-appliance')) ? readdirSync(at(root, '/var/lib/haproxy-appliance')).sort() : []);

test("first boot, OpenSSL failing: everything else is written, no PKI file is, exit 1 naming the step and OpenSSL's reason; the next run makes the keys", async () => {
  await withSandbox((root, dir) => {
    const env = envFile(dir);
    const r = provision(root, env, failingOpenssl(dir));
    assert.equal(r.code, 1, r.stderr);
    // Structured: which step, OpenSSL's own reason, not a timeout.
    const d = doc(r);
    assert.equal(d.ok, false);
    assert.deepEqual(d.pki?.failed, { step: 'ca', reason: `openssl req failed: ${OPENSSL_REASON}`, timedOut: false });
    // The error on stderr names the step and the reason.
    assert.match(
      r.stderr,
      /keys were not made: generating the appliance CA \(appliance\.ca_cert is blank\) failed: openssl req failed: openssl: RAND_bytes: entropy source failure \(simulated\)/,
    );
    assert.doesNotMatch(r.stderr, /note: appliance\.ca_cert: blank, so a CA is generated/, 'no note claims a CA was made');

    for (const p of ACCESS_AND_NETWORK) assert.ok(existsSync(at(root, p)), `${p} is written`);
    assert.match(readFileSync(at(root, '/etc/ssh/sshd_config.d/50-haproxy-appliance.conf'), 'utf8'), /PermitRootLogin/);
    assert.deepEqual(
      Object.values(pkiSnapshot(root)),
      PKI_FILES.map(() => null),
      'no PKI file at all (no half of it)',
    );
    assert.deepEqual(
      d.changed.map((c) => c.path).filter((p) => PKI_FILES.includes(p as never)),
      [],
    );
    assert.deepEqual(stateFolder(root), ['state.json'], 'no key left in the work folder, no journal');
    const state = JSON.parse(readFileSync(at(root, STATE_FILE), 'utf8')) as { files: Record<string, string> };
    assert.deepEqual(
      Object.keys(state.files).filter((p) => PKI_FILES.includes(p as never)),
      [],
      'state.json records no PKI file',
    );

    // The next run, with a working OpenSSL, makes the keys and changes nothing else.
    const again = provision(root, env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      doc(again)
        .changed.map((c) => `${c.action} ${c.path}`)
        .sort(),
      PKI_FILES.map((p) => `create ${p}`).sort(),
    );
    for (const p of ACCESS_AND_NETWORK.filter((p) => p !== STATE_FILE)) assert.ok(doc(again).unchanged.includes(p), `${p} was already right`);
    execFileSync('openssl', ['verify', '-CAfile', at(root, PKI_PATHS.caCert), at(root, PKI_PATHS.serverCert)]);
    assert.equal(statSync(at(root, PKI_PATHS.caKey)).mode & 0o777, 0o600);
  });
});

test('first boot, OpenSSL killed by a signal: the reason says so, and the rest is applied', async () => {
  await withSandbox((root, dir) => {
    const r = provision(root, envFile(dir), failingOpenssl(dir, '*', 'killed'));
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(doc(r).pki?.failed, { step: 'ca', reason: 'openssl req failed: killed by SIGKILL', timedOut: false });
    assert.ok(existsSync(at(root, '/etc/ssh/sshd_config.d/50-haproxy-appliance.conf')));
    assert.deepEqual(
      Object.values(pkiSnapshot(root)),
      PKI_FILES.map(() => null),
    );
  });
});

test('a rerun that must re-issue server.crt, OpenSSL failing: every PKI file stays exactly as it was, the rest is applied; the next run issues it', async () => {
  await withSandbox((root, dir) => {
    assert.equal(provision(root, envFile(dir)).code, 0);
    const before = pkiSnapshot(root);
    // A new host name: the SANs change, so server.crt must be issued again (the CA stays).
    const renamed = envFile(dir, { 'network.hostname': 'lb-2.corp.example' });
    // Only the issuing fails (`openssl req -new`), after the CA was kept as it is.
    const r = provision(root, renamed, failingOpenssl(dir, 'req\\ -new*'));
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(doc(r).pki?.failed, { step: 'server', reason: `openssl req failed: ${OPENSSL_REASON}`, timedOut: false });
    assert.match(r.stderr, /issuing the Data Plane API's server\.crt failed: openssl req failed: .*entropy source failure/);
    assert.deepEqual(pkiSnapshot(root), before, 'every PKI file is byte for byte as it was');
    assert.equal(readFileSync(at(root, '/etc/hostname'), 'utf8').trim(), 'lb-2.corp.example', 'the rest was applied');
    assert.deepEqual(stateFolder(root), ['backups', 'state.json'], 'no key left in the work folder, no journal');

    const again = provision(root, renamed);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      doc(again)
        .changed.map((c) => c.path)
        .sort(),
      [PKI_PATHS.serverCert, PKI_PATHS.serverKey].sort(),
      'only the server pair; the kept CA stays',
    );
    assert.match(new X509Certificate(readFileSync(at(root, PKI_PATHS.serverCert))).subjectAltName!, /DNS:lb-2\.corp\.example/);
  });
});

test('a CA given by the properties is not installed half: when server.crt cannot be issued, neither ca.crt nor ca.key nor the trust store is written', async () => {
  await withSandbox((root, dir) => {
    const env = envFile(dir, { 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': fixture('pki/ca.key') });
    const r = provision(root, env, failingOpenssl(dir));
    assert.equal(r.code, 1, r.stderr);
    assert.equal(doc(r).pki?.failed.step, 'server');
    assert.deepEqual(
      Object.values(pkiSnapshot(root)),
      PKI_FILES.map(() => null),
    );
    assert.ok(existsSync(at(root, '/etc/ssh/sshd_config.d/50-haproxy-appliance.conf')));
    const again = provision(root, env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(at(root, PKI_PATHS.caCert), 'utf8'), fixture('pki/ca.crt'));
  });
});

// ---- The live steps when no key material could be made ----

const NICS = [
  { role: 'management' as const, mac: SEED_MACS.management, currentName: 'ens192' },
  { role: 'workload' as const, mac: SEED_MACS.workload, currentName: 'ens224' },
  { role: 'frontend' as const, mac: SEED_MACS.frontend, currentName: 'ens256' },
];
const CA = { cert: fixture('pki/ca.crt'), key: fixture('pki/ca.key') };
const SERVER = { cert: fixture('pki/leaf.crt'), key: fixture('pki/leaf.key') };
const BOOT: LiveContext = { boot: true, systemd: true, vmtoolsd: true };
const RERUN: LiveContext = { boot: false, systemd: true, vmtoolsd: true };

function planWith(facts: Partial<ApplianceFacts>) {
  const config = validateProperties(SEED_PROPERTIES).config!;
  return planAppliance(config, NICS, { salts: { userlist: 'userlistsalt', root: 'rootsalt' }, dataplaneVersionOutput: 'v2.1.0', ...facts });
}

const argvOf = (actions: LiveAction[]) => actions.flatMap((a) => (a.kind === 'exec' ? [a.argv.join(' ')] : []));
const isApi = (line: string) => line.includes('dataplaneapi.service') && !line.includes('daemon-reload');
const isPublish = (line: string) => line.startsWith('vmtoolsd ');
const isTrustStore = (line: string) => line.includes('trust-store') || line.startsWith('update-ca-certificates');

/** Writes the plan's files under `root` as apply would (so a next plan compares against them). */
function writePlanned(root: string, plan: ReturnType<typeof planWith>): void {
  for (const f of plan.files) {
    mkdirSync(dirname(at(root, f.path)), { recursive: true });
    writeFileSync(at(root, f.path), f.content, { mode: f.mode });
  }
}

test('no key material (first boot): the root password is planned and set, the network and sshd go on; no CA is published, the API is held back, no trust store', async () => {
  await withSandbox(async (root, dir) => {
    // What gatherFacts gives when OpenSSL failed on a first boot: no `pki`, nothing kept.
    const plan = planWith({});
    assert.deepEqual(
      plan.files.map((f) => f.path).filter((p) => PKI_FILES.includes(p as never)),
      [],
      'no PKI file planned',
    );
    assert.ok(plan.rootPassword, 'the root password is planned');
    assert.equal(plan.publishCa, undefined, 'no CA to publish');
    assert.match(plan.dataplaneHeld ?? '', /server\.crt/);
    assert.ok(
      plan.files.some((f) => f.path === '/etc/systemd/system/dataplaneapi.service'),
      'the API unit is still written',
    );

    const { changes } = await computeChanges(plan, root);
    const boot = liveActions(plan, changes, BOOT);
    assert.deepEqual(
      argvOf(boot).filter((l) => isApi(l) || isPublish(l) || isTrustStore(l)),
      [],
      'no API start, no publish, no trust store',
    );
    const { calls, error, wrote } = await runWithWrappers(dir, boot);
    assert.equal(error, undefined, String(error));
    assert.equal(calls[0], 'chpasswd -e', 'the root password first');
    assert.deepEqual(wrote, ['_var_lib_haproxy-appliance_root-password.applied'], 'and its marker');
    assert.ok(calls.includes('hostname haproxy.local') && calls.includes('systemctl daemon-reload'), calls.join('\n'));

    // The same on a rerun (an admin's): sshd is checked and reloaded; the API is not restarted.
    const rerun = argvOf(liveActions(plan, changes, RERUN));
    assert.ok(rerun.includes('sshd -t') && rerun.includes('systemctl reload-or-restart ssh.service'));
    assert.deepEqual(
      rerun.filter((l) => isApi(l) || isPublish(l) || isTrustStore(l)),
      [],
    );

    // The run that finally makes the keys enables and starts the API, though its unit is unchanged.
    writePlanned(root, plan);
    const made = planWith({ pki: { ca: CA, server: SERVER } });
    const next = await computeChanges(made, root);
    assert.deepEqual(next.changes.map((c) => c.path).sort(), [...PKI_FILES].sort(), 'only the PKI files change');
    const nextBoot = argvOf(liveActions(made, next.changes, BOOT));
    assert.ok(
      nextBoot.includes('systemctl enable dataplaneapi.service') && nextBoot.includes('systemctl start --no-block dataplaneapi.service'),
      nextBoot.join('\n'),
    );
    assert.ok(nextBoot.some(isPublish) && nextBoot.some(isTrustStore));
    const nextRerun = argvOf(liveActions(made, next.changes, RERUN));
    assert.ok(
      nextRerun.includes('systemctl enable dataplaneapi.service') && nextRerun.includes('systemctl restart dataplaneapi.service'),
      nextRerun.join('\n'),
    );
  });
});

test('no new key material but a valid CA and server pair kept on disk: the kept CA is still published, and the API runs on', async () => {
  await withSandbox(async (root) => {
    const plan = planWith({ pkiKept: { caCert: CA.cert, serverKeyPair: true } });
    assert.equal(plan.publishCa, CA.cert);
    assert.equal(plan.dataplaneHeld, undefined);
    assert.deepEqual(
      plan.files.map((f) => f.path).filter((p) => PKI_FILES.includes(p as never)),
      [],
    );
    const { changes } = await computeChanges(plan, root);
    const steps = argvOf(liveActions(plan, changes, RERUN));
    assert.ok(steps.includes('systemctl restart dataplaneapi.service'), 'its configuration changed: restarted with the kept certificate');
    assert.ok(steps.some(isPublish) && !steps.some(isTrustStore));
    // A CA the properties give but that could not be installed (its server.crt failed) is not published.
    assert.equal(planWith({ pkiKept: { serverKeyPair: false } }).publishCa, undefined);
  });
});

test('what of the PKI on disk stays in use: the CA the served server.crt chains to (or the valid kept CA) is published; never one that is not there', async () => {
  await withSandbox(async (_root, dir) => {
    const config = validateProperties(SEED_PROPERTIES).config!;
    const ws = { dir: join(dir, 'pki-work') };
    // Real material from the real OpenSSL: the CA on disk and the server pair it signed.
    const ca = await generateCa('haproxy.local', ws);
    const server = await issueServerCert(ca, 'haproxy.local', serverSans(config), ws);
    const now = new Date();
    const kept = (facts: Parameters<typeof decidePki>[1], cfg = config) => keptPki(facts, decidePki(cfg, facts));

    // First boot: nothing there, nothing published, the API has no key pair.
    assert.deepEqual(kept({ now }), { serverKeyPair: false });
    // A valid CA kept, its server.crt to be issued again (no server pair yet): the kept CA is published.
    assert.deepEqual(kept({ caCert: ca.cert, caKey: ca.key, now }), { caCert: ca.cert, serverKeyPair: false });
    // The properties now give another CA, which could not be installed: the CA on disk, which the
    // served server.crt chains to, is still the one to publish.
    const given = validateProperties({
      ...SEED_PROPERTIES,
      'appliance.ca_cert': fixture('pki/other-ca.crt'),
      'appliance.ca_cert_key': fixture('pki/other-ca.key'),
    }).config!;
    const onDisk = { caCert: ca.cert, caKey: ca.key, serverCert: server.cert, serverKey: server.key, now };
    assert.equal(decidePki(given, onDisk).ca.source, 'properties');
    assert.deepEqual(kept(onDisk, given), { caCert: ca.cert, serverKeyPair: true });
    // An unreadable ca.crt is not published, whatever else is there.
    assert.deepEqual(kept({ ...onDisk, caCert: 'not a certificate' }), { serverKeyPair: true });
  });
});
