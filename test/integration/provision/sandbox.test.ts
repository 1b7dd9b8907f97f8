/**
 * `provision --root` is a sandbox (issue #9, class 2): every path is confined to the root (links
 * that lead out of it are refused, at any depth, absolute or relative, with `..`), only regular
 * files are opened (a FIFO never hangs a run), nothing from the root is executed, nothing of the
 * build host is probed, a root that is `/` is refused, and the journal names paths relative to the
 * root and is checked before recovery acts on it. Each test proves that nothing outside the root
 * was written, read into the image, or deleted, through the compiled CLI.
 */
import type { Problem } from '../../../src/problems.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PathRefused, confinedPath, readCurrent } from '../../../src/util/root.js';
import { cli } from '../../harness/cli.js';
import { fixture } from '../../harness/ovf.js';
import { envFile, tree, withSandbox } from '../../harness/sandbox.js';
import { walkTree } from '../../harness/tree.js';

const CA = { 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': fixture('pki/ca.key') };
const STATE = 'var/lib/haproxy-appliance';

/**
 * Every entry (files, links, folders) under `dir`, with what it holds: a snapshot to compare. The
 * run lock (a file that may stay in place, under /run or named *lock) and empty folders (the
 * lock's, made before the paths are checked) are not part of it.
 */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const entries = walkTree(dir, { skip: (rel, d) => /^(?:\/[^/]+)?\/run(?:\/|$)/u.test(rel) || /(?:^|\.)lock$/u.test(d.name) });
  for (const { rel, path, dirent } of entries) {
    if (dirent.isSymbolicLink()) out.set(rel, `link -> ${readlinkSync(path)}`);
    else if (dirent.isDirectory()) {
      if (entries.some((e) => !e.dirent.isDirectory() && e.rel.startsWith(`${rel}/`))) out.set(rel, `dir ${(lstatSync(path).mode & 0o777).toString(8)}`);
    } else if (dirent.isFile()) out.set(rel, `file ${(lstatSync(path).mode & 0o777).toString(8)} ${readFileSync(path, 'utf8')}`);
    else out.set(rel, 'special');
  }
  return out;
}

function link(target: string, at: string): void {
  mkdirSync(join(at, '..'), { recursive: true });
  symlinkSync(target, at);
}

test('confinedPath: links inside the root are followed, links out of it refused, at any depth', async () => {
  await withSandbox(async (root, dir) => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
    link('a', join(root, 'l1')); // relative, inside
    link(join(root, 'a'), join(root, 'a/b/abs-in')); // absolute, inside, at depth 2
    link('../../../a/b', join(root, 'a/b/c/rel-in')); // relative with .., inside, at depth 3
    link('../../../outside', join(root, 'a/b/rel-out')); // relative, climbs out with ..
    link(outside, join(root, 'a/abs-out')); // absolute, outside
    link('../../../..', join(root, 'a/b/c/dotdot')); // .. above the root
    link('/etc', join(root, 'a/b/c/host-etc')); // the host's /etc
    link('../l-out', join(root, 'a/hop')); // inside, to a link that leads out
    link(outside, join(root, 'l-out'));
    link('loop2', join(root, 'loop1'));
    link('loop1', join(root, 'loop2'));
    link(`${root}/../outside`, join(root, 'a/abs-dotdot')); // absolute, starts with the root, leaves it with ..

    assert.equal(await confinedPath(root, '/a/b/c/f'), join(root, 'a/b/c/f'));
    assert.equal(await confinedPath(root, '/l1/b/x'), join(root, 'a/b/x'));
    assert.equal(await confinedPath(root, '/a/b/abs-in/b/c'), join(root, 'a/b/c'));
    assert.equal(await confinedPath(root, '/a/b/c/rel-in/c/y'), join(root, 'a/b/c/y'));
    assert.equal(await confinedPath(root, '/missing/deeper/f'), join(root, 'missing/deeper/f'), 'what does not exist yet stays as it is');
    assert.equal(await confinedPath('/', '/etc/hosts'), '/etc/hosts', 'the live system: as it is');
    for (const p of [
      '/a/b/rel-out/f',
      '/a/abs-out',
      '/a/abs-out/x/y',
      '/a/b/c/dotdot/tmp',
      '/a/b/c/host-etc/passwd',
      '/a/hop/f',
      '/loop1/f',
      '/a/abs-dotdot/f',
    ]) {
      await assert.rejects(confinedPath(root, p), (e) => e instanceof PathRefused && e.message.includes(p), p);
    }
    symlinkSync('/', join(dir, 'slash'));
    await assert.rejects(confinedPath(join(dir, 'slash'), '/etc/hosts'), PathRefused, 'a root that is / is no sandbox');
    assert.deepEqual(readdirSync(outside), []);
  });
});

test('readCurrent opens regular files only: a FIFO, a socket, a directory are named for what they are', async () => {
  await withSandbox(async (root) => {
    execFileSync('mkfifo', [join(root, 'fifo')]);
    mkdirSync(join(root, 'dir'));
    const server = createServer();
    await new Promise<void>((ok) => server.listen(join(root, 'sock'), ok));
    try {
      for (const [name, kind] of [
        ['fifo', 'a FIFO'],
        ['dir', 'a directory'],
        ['sock', 'a socket'],
      ] as const) {
        await assert.rejects(
          readCurrent(join(root, name)),
          (e) => e instanceof PathRefused && e.message === `${join(root, name)} is ${kind}, not a regular file; nothing was changed`,
        );
      }
      assert.equal(await readCurrent(join(root, 'none')), undefined);
      // A link: refused under a root (confinedPath resolves links first), followed on the live system.
      writeFileSync(join(root, 'real'), 'content\n');
      symlinkSync('real', join(root, 'link'));
      await assert.rejects(readCurrent(join(root, 'link')), (e) => e instanceof PathRefused && /is a symbolic link, not a regular file/u.test(e.message));
      assert.deepEqual(await readCurrent(join(root, 'link'), 'link', true), { content: 'content\n', mode: lstatSync(join(root, 'real')).mode & 0o7777 });
      symlinkSync('fifo', join(root, 'link-to-fifo'));
      await assert.rejects(
        readCurrent(join(root, 'link-to-fifo'), 'link-to-fifo', true),
        (e) => e instanceof PathRefused && e.message.startsWith('link-to-fifo is a FIFO'),
      );
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });
});

test('a symlinked directory, absolute or relative, at several depths: nothing is written outside the root, exit 2', async () => {
  await withSandbox(async (root, dir) => {
    const env = envFile(dir, CA);
    const cases: [string, string][] = [
      ['etc/haproxy', join(dir, 'elsewhere')], // absolute, depth 2
      ['etc/systemd/network', '../../../elsewhere'], // relative, depth 3, out with ..
      ['etc/ssh/sshd_config.d', '../../..'], // .. to the root's parent
      ['var/lib/haproxy-appliance', join(dir, 'elsewhere')], // the state folder (journal, backups, state.json, key work folder)
      ['etc', join(dir, 'elsewhere')], // depth 1 (never the host's own /etc: the old code would write there)
    ];
    mkdirSync(join(dir, 'elsewhere'));
    for (const [at, target] of cases) {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root);
      link(target, join(root, at));
      const outsideBefore = snapshot(dir);
      for (const args of [['--dry-run'], [], ['--json']]) {
        const r = cli(['provision', '--root', root, '--ovf-env', env, ...args]);
        assert.equal(r.code, 2, `${at} -> ${target} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
        const message = args.includes('--json') ? (JSON.parse(r.stdout).error as string) : r.stderr;
        assert.match(message, /--root: \/\S+ leads out of the root/u, `${at}: ${message}`);
        assert.ok(message.includes(join(root, at)), `${at}: the link is named: ${message}`);
      }
      assert.deepEqual(snapshot(dir), outsideBefore, `${at} -> ${target}: nothing changed, inside or outside the root`);
    }
  });
});

test('a symlinked file is not read from outside: neither printed by --dry-run nor copied into the backups', async () => {
  await withSandbox(async (root, dir) => {
    const env = envFile(dir, CA);
    assert.equal(cli(['provision', '--root', root, '--ovf-env', env]).code, 0);
    const hostFile = join(dir, 'host-hosts');
    const marker = 'HOST-ONLY-CONTENT-5f1e';
    writeFileSync(hostFile, `127.0.0.1 ${marker}\n`);
    const targets: [string, string][] = [
      ['etc/hosts', hostFile], // absolute
      ['etc/haproxy/ca.key', '../../../host-hosts'], // relative, a PKI fact
      [`${STATE}/state.json`, hostFile],
      ['etc/default/haproxy-appliance', hostFile], // the defaults file (NICS=)
      [`${STATE}/journal.json`, hostFile],
    ];
    for (const [at, target] of targets) {
      const saved = `${join(root, at)}.saved`;
      const had = existsSync(join(root, at));
      if (had) renameSync(join(root, at), saved);
      link(target, join(root, at));
      const changed = envFile(dir, { ...CA, 'network.nameservers': '10.9.9.9' }, 'changed.xml');
      const before = snapshot(dir);
      const dry = cli(['provision', '--root', root, '--ovf-env', env, '--dry-run']);
      assert.equal(dry.code, 2, `${at}: ${dry.stderr}`);
      assert.ok(!(dry.stdout + dry.stderr).includes(marker), `${at}: the host's file is not printed`);
      assert.match(dry.stderr, /leads out of the root/u);
      const real = cli(['provision', '--root', root, '--ovf-env', changed]);
      assert.equal(real.code, 2, `${at}: ${real.stderr}`);
      assert.deepEqual(snapshot(dir), before, `${at}: nothing changed`);
      for (const [path, content] of tree(root, (p) => p.startsWith(`/${at}`))) assert.ok(!content.includes(marker), `${at}: ${path} holds the host's file`);
      rmSync(join(root, at));
      if (had) renameSync(saved, join(root, at));
    }
    assert.equal(readFileSync(hostFile, 'utf8'), `127.0.0.1 ${marker}\n`);
  });
});

test("a symlinked backups folder: rotation deletes nothing outside the root; only the agent's own run folders are rotated", async () => {
  await withSandbox(async (root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA)]).code, 0);
    const backups = join(root, STATE, 'backups');
    const victims = join(dir, 'victims');
    const runs = Array.from({ length: 8 }, (_, i) => `2020010${i + 1}T000000Z-${100 + i}`);
    for (const r of runs) {
      mkdirSync(join(victims, r), { recursive: true });
      writeFileSync(join(victims, r, 'precious'), r);
    }
    for (const target of [victims, '../../../../victims']) {
      rmSync(backups, { recursive: true, force: true });
      link(target, backups);
      const changed = envFile(dir, { ...CA, 'network.nameservers': `10.9.9.${target.length % 200}` }, 'b.xml');
      const before = snapshot(dir);
      const r = cli(['provision', '--root', root, '--ovf-env', changed]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(backups), r.stderr);
      assert.deepEqual(snapshot(dir), before, `backups -> ${target}: nothing deleted or written`);
    }
    // Inside the root: foreign names and links in backups/ survive rotation.
    rmSync(backups);
    mkdirSync(backups, { mode: 0o700 });
    writeFileSync(join(backups, 'keep-me'), 'not a run folder');
    symlinkSync(victims, join(backups, '20000101T000000Z-1'));
    for (const [i, ns] of ['10.1.1.1', '10.1.1.2', '10.1.1.3', '10.1.1.4', '10.1.1.5', '10.1.1.6', '10.1.1.7'].entries()) {
      const r = cli(['provision', '--root', root, '--ovf-env', envFile(dir, { ...CA, 'network.nameservers': ns }, `r${i}.xml`)]);
      assert.equal(r.code, 0, r.stderr);
    }
    const left = readdirSync(backups).sort();
    assert.ok(left.includes('keep-me') && left.includes('20000101T000000Z-1'), left.join(' '));
    assert.equal(left.filter((n) => /^\d{8}T\d{6}Z-\d+$/u.test(n) && lstatSync(join(backups, n)).isDirectory()).length, 5, left.join(' '));
    assert.deepEqual(readdirSync(victims).sort(), runs);
  });
});

test('links that stay inside the root are followed: the files land inside, the links stay links', async () => {
  await withSandbox(async (root, dir) => {
    mkdirSync(join(root, 'srv/haproxy'), { recursive: true });
    link('../srv/haproxy', join(root, 'etc/haproxy')); // relative, inside
    mkdirSync(join(root, 'opt/units'), { recursive: true });
    link(join(root, 'opt/units'), join(root, 'etc/systemd/system')); // absolute, inside, depth 3
    const env = envFile(dir, CA);
    const r = cli(['provision', '--root', root, '--ovf-env', env]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(lstatSync(join(root, 'etc/haproxy')).isSymbolicLink() && lstatSync(join(root, 'etc/systemd/system')).isSymbolicLink());
    assert.match(readFileSync(join(root, 'srv/haproxy/haproxy.cfg'), 'utf8'), /^userlist controller$/mu);
    assert.ok(existsSync(join(root, 'opt/units/dataplaneapi.service')));
    assert.match(cli(['provision', '--root', root, '--ovf-env', env]).stdout, /nothing to change/u);
  });
});

test('--root runs nothing from the image: the Data Plane API version from --dataplaneapi-version, dpkg, or unknown', async () => {
  await withSandbox(async (root, dir) => {
    const ran = join(dir, 'the-image-binary-ran');
    const bin = join(root, 'usr/local/bin/dataplaneapi');
    mkdirSync(join(bin, '..'), { recursive: true });
    writeFileSync(bin, `#!/bin/sh\necho ran > '${ran}'\necho 'HAProxy Data Plane API v3.0.2'\n`, { mode: 0o755 });
    chmodSync(bin, 0o755);
    const env = envFile(dir, CA);
    const unit = () => readFileSync(join(root, 'etc/systemd/system/dataplaneapi.service'), 'utf8');

    const dry = cli(['provision', '--root', root, '--ovf-env', env, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(existsSync(ran), false, "--dry-run did not run the image's binary");
    assert.match(
      dry.stderr,
      /warning: --dataplaneapi-version: the Data Plane API's version is unknown \(with --root nothing from the image is run.*give --dataplaneapi-version/u,
    );

    const unknown = cli(['provision', '--root', root, '--ovf-env', env, '--json']);
    assert.equal(unknown.code, 0, unknown.stderr);
    assert.equal(existsSync(ran), false, "provision did not run the image's binary");
    assert.ok(
      (JSON.parse(unknown.stdout).warnings as Problem[]).some(
        (w) =>
          w.at === '--dataplaneapi-version' &&
          w.code === 'dataplaneapi-version-unknown' &&
          w.severity === 'warning' &&
          w.message.startsWith("the Data Plane API's version is unknown"),
      ),
    );
    assert.match(unit(), /--tls-port=5556/u, 'unknown: the flags form');

    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    writeFileSync(
      join(root, 'var/lib/dpkg/status'),
      [
        'Package: haproxy\nStatus: install ok installed\nVersion: 2.6.12-1\n',
        'Package: dataplaneapi\nStatus: install ok installed\nPriority: optional\nVersion: 2.9.1\nDescription: HAProxy Data Plane API\n',
      ].join('\n'),
    );
    const dpkg = cli(['provision', '--root', root, '--ovf-env', env]);
    assert.equal(dpkg.code, 0, dpkg.stderr);
    assert.match(unit(), /^ExecStart=\/usr\/local\/bin\/dataplaneapi -f \/etc\/haproxy\/dataplaneapi\.yaml$/mu, 'dpkg says 2.9.1: the yaml form');
    assert.ok(!dpkg.stderr.includes('version is unknown'));

    const given = cli(['provision', '--root', root, '--ovf-env', env, '--dataplaneapi-version', '2.1.0']);
    assert.equal(given.code, 0, given.stderr);
    assert.match(unit(), /--tls-port=5556/u, '--dataplaneapi-version 2.1.0 wins: the flags form');
    const bad = cli(['provision', '--root', root, '--ovf-env', env, '--dataplaneapi-version', 'latest; rm -rf /']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--dataplaneapi-version: "latest; rm -rf \/" is not a version like 2\.1\.0 or 3\.0/u);
    assert.equal(existsSync(ran), false, 'never ran');
  });
});

test('--root probes nothing of the build host: --ovf-env is required (exit 2); no vmtoolsd, vmware-rpctool, blkid or mount runs', async () => {
  await withSandbox(async (root, dir) => {
    const fakeBin = join(dir, 'bin');
    mkdirSync(fakeBin);
    const ran = join(dir, 'ran');
    for (const tool of ['vmtoolsd', 'vmware-rpctool', 'blkid', 'mount']) {
      writeFileSync(join(fakeBin, tool), `#!/bin/sh\necho ${tool} >> '${ran}'\nexit 1\n`, { mode: 0o755 });
    }
    const PATH = `${fakeBin}:${process.env.PATH}`;
    for (const args of [[], ['--dry-run'], ['--json']]) {
      const r = cli(['provision', '--root', root, ...args], { env: { PATH, OVF_ENV: envFile(dir, CA) } });
      assert.equal(r.code, 2, r.stderr + r.stdout);
      const message = args.includes('--json') ? (JSON.parse(r.stdout).error as string) : r.stderr;
      assert.match(message, /--root: give the OVF environment with --ovf-env FILE/u);
    }
    assert.equal(existsSync(ran), false, `no host tool ran: ${existsSync(ran) ? readFileSync(ran, 'utf8') : ''}`);
    assert.deepEqual(readdirSync(root), [], 'nothing written');
    // NICS= comes from the root's defaults file, confined like every other path.
    mkdirSync(join(root, 'etc/default'), { recursive: true });
    writeFileSync(join(root, 'etc/default/haproxy-appliance'), 'NICS=management=00:50:56:b1:20:5e,workload=00:50:56:b1:8d:33,frontend=00:50:56:b1:8a:41\n');
    const ok = cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA), '--json'], { env: { PATH } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).nics.source.includes(join(root, 'etc/default/haproxy-appliance')), true, JSON.parse(ok.stdout).nics.source);
    assert.equal(existsSync(ran), false);
  });
});

test('--root that resolves to / is refused, however it is spelled (exit 2)', async () => {
  await withSandbox(async (_root, dir) => {
    const env = envFile(dir, CA);
    const toSlash = join(dir, 'slash');
    symlinkSync('/', toSlash);
    const empty = '';
    for (const spelling of ['/', '/tmp/..', `${empty}/`, '//', toSlash, `${dir}/../../../../../../..`]) {
      // --dry-run: were it accepted (the old code), it would still write nothing on this machine.
      const r = cli(['provision', '--root', spelling, '--ovf-env', env, '--dry-run']);
      assert.equal(r.code, 2, `${spelling}: ${r.stderr}`);
      assert.match(r.stderr, /--root: .* is the live system's root \(\/\), not a sandbox/u, spelling);
      assert.equal(r.stdout, '', 'no diff of the live system');
    }
  });
});

/** A tree with the files that differ run to run by design left out, userlist hashes masked. */
function stable(root: string): Map<string, string> {
  const t = tree(root, (p) => p.startsWith(`/${STATE}`) || p === '/etc/haproxy/server.crt' || p === '/etc/haproxy/server.key');
  for (const [p, c] of t) t.set(p, c.replace(/password \$6\$\S+/gu, 'password <crypt>'));
  return t;
}

test('a moved root recovers where it is now: the journal names paths relative to the root, no staged file is left', async () => {
  await withSandbox(async (_root, dir) => {
    const first = join(dir, 'first');
    mkdirSync(first);
    const oldEnv = envFile(dir, CA, 'old.xml');
    const newEnv = envFile(
      dir,
      { ...CA, 'loadbalance.haproxy_pwd': 'moved-pwd', 'network.nameservers': '10.170.16.50', 'network.hostname': 'lb-9.example' },
      'new.xml',
    );
    assert.equal(cli(['provision', '--root', first, '--ovf-env', oldEnv]).code, 0);
    const clean = join(dir, 'clean');
    execFileSync('cp', ['-a', first, clean]);
    assert.equal(cli(['provision', '--root', clean, '--ovf-env', newEnv]).code, 0);

    for (const step of ['journal-staging', 'staged-3', 'journal-committing', 'committed-2']) {
      const a = join(dir, `a-${step}`);
      const b = join(dir, `b-${step}`);
      execFileSync('cp', ['-a', first, a]);
      const crashed = cli(['provision', '--root', a, '--ovf-env', newEnv], { env: { HAPROXY_APPLIANCE_CRASH_AT: step } });
      assert.equal(crashed.code, -1, crashed.stderr);
      const journal = JSON.parse(readFileSync(join(a, STATE, 'journal.json'), 'utf8')) as { entries: { path: string; staged?: string }[] };
      assert.ok(journal.entries.length >= 6);
      for (const e of journal.entries) {
        assert.ok(!e.path.includes(a) && !(e.staged ?? '').includes('/'), `no host path in the journal: ${JSON.stringify(e)}`);
      }
      renameSync(a, b); // the image folder moved (or mounted elsewhere) between the runs
      const next = cli(['provision', '--root', b, '--ovf-env', newEnv]);
      assert.equal(next.code, 0, `${step}: ${next.stderr}`);
      assert.match(next.stderr, /was stopped/u, `${step}: it recovered`);
      assert.deepEqual(
        [...tree(b).keys()].filter((p) => p.includes('.hpa-stage-')),
        [],
        `${step}: no staged file is left`,
      );
      assert.equal(existsSync(join(b, STATE, 'journal.json')), false);
      assert.deepEqual(stable(b), stable(clean), `${step}: converged`);
    }
  });
});

test('a crafted journal cannot move or delete a file the agent does not own: refused, nothing touched (exit 2)', async () => {
  await withSandbox(async (root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA)]).code, 0);
    const victims = join(dir, 'victims');
    mkdirSync(victims);
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    const id = '20260101T000000Z-4242';
    const cfg = '/etc/haproxy/haproxy.cfg';
    const journals: [string, unknown][] = [
      ['staging: a host file as a staged file', { id, phase: 'staging', entries: [{ path: cfg, staged: join(victims, 'v1') }], actions: [] }],
      ['committing: a host file renamed into the image', { id, phase: 'committing', entries: [{ path: cfg, staged: join(victims, 'v2') }], actions: [] }],
      [
        'committing: a relative staged path out of the root',
        { id, phase: 'committing', entries: [{ path: cfg, staged: '../../../../victims/v3' }], actions: [] },
      ],
      ['committing: removing a file the agent does not own', { id, phase: 'committing', entries: [{ path: '/etc/passwd', remove: true }], actions: [] }],
      ['committing: a target outside the root', { id, phase: 'committing', entries: [{ path: `/../../victims/v4`, remove: true }], actions: [] }],
      [
        'staging: a run id that is a path',
        { id: '../../../victims/v5', phase: 'staging', entries: [{ path: cfg, staged: `.haproxy.cfg.hpa-stage-../../../victims/v5` }], actions: [] },
      ],
    ];
    for (const [what, journal] of journals) {
      for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) writeFileSync(join(victims, v), `victim ${v}\n`);
      writeFileSync(join(root, STATE, 'journal.json'), JSON.stringify(journal));
      const changed = envFile(dir, { ...CA, 'network.nameservers': '10.9.9.9' }, 'b.xml');
      const before = snapshot(dir);
      const r = cli(['provision', '--root', root, '--ovf-env', changed]);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /the journal \/var\/lib\/haproxy-appliance\/journal\.json under .* (names|stages|has no valid run id)/u, what);
      assert.match(r.stderr, /nothing was touched/u, what);
      assert.deepEqual(snapshot(dir), before, `${what}: nothing changed inside or outside the root`);
    }
    // An earlier agent's journal (the staged file by its absolute path) is still recovered, when
    // that path is exactly the staging file beside the target in this root.
    const staged = join(root, 'etc/haproxy', `.haproxy.cfg.hpa-stage-${id}`);
    writeFileSync(staged, 'a staged candidate\n', { mode: 0o600 });
    writeFileSync(join(root, STATE, 'journal.json'), JSON.stringify({ id, phase: 'staging', entries: [{ path: cfg, staged }], actions: [] }));
    const legacy = cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA)]);
    assert.equal(legacy.code, 0, legacy.stderr);
    assert.match(legacy.stderr, new RegExp(`run ${id} was stopped before it replaced any file`, 'u'));
    assert.equal(existsSync(staged), false);
  });
});

test('a FIFO, a device, a socket or a directory where a file is expected: refused at once with what it is, --dry-run included', async () => {
  await withSandbox(async (root, dir) => {
    const env = envFile(dir, CA);
    assert.equal(cli(['provision', '--root', root, '--ovf-env', env]).code, 0);
    const server = createServer();
    try {
      const both = [['--dry-run'], []];
      const kinds: [string, string, (p: string) => Promise<void> | void, string[][]][] = [
        ['/etc/haproxy/haproxy.cfg', 'a FIFO', (p) => void execFileSync('mkfifo', [p]), both],
        ['/etc/default/haproxy-appliance', 'a FIFO', (p) => void execFileSync('mkfifo', [p]), both],
        [`/${STATE}/journal.json`, 'a FIFO', (p) => void execFileSync('mkfifo', [p]), [[]]], // a dry run does not read the journal
        ['/etc/haproxy/ca.key', 'a FIFO', (p) => void execFileSync('mkfifo', [p]), both],
        ['/etc/hosts', 'a character device', (p) => void execFileSync('mknod', [p, 'c', '1', '3']), both],
        ['/etc/hostname', 'a socket', (p) => new Promise<void>((ok) => server.listen(p, ok)), both],
        ['/etc/systemd/network/20-workload.network', 'a directory', (p) => void mkdirSync(p), both],
      ];
      for (const [path, kind, make, runs] of kinds) {
        const host = join(root, path);
        const saved = `${host}.saved`;
        if (existsSync(host)) renameSync(host, saved);
        mkdirSync(join(host, '..'), { recursive: true });
        await make(host);
        const before = snapshot(dir);
        for (const args of runs) {
          // A FIFO once blocked the run forever: 30 s is plenty for a run that does not block.
          const r = cli(['provision', '--root', root, '--ovf-env', env, ...args], { timeoutMs: 30_000 });
          assert.equal(r.code, 2, `${path} ${args.join(' ')}: ${r.stderr}`);
          assert.ok(r.stderr.includes(`${path} (${host}) is ${kind}, not a regular file`), `${path}: ${r.stderr}`);
        }
        assert.deepEqual(snapshot(dir), before, `${path}: nothing changed`);
        if (kind === 'a socket') await new Promise((ok) => server.close(ok));
        rmSync(host, { recursive: true, force: true });
        if (existsSync(saved)) renameSync(saved, host);
      }
    } finally {
      if (server.listening) await new Promise((ok) => server.close(ok));
    }
    assert.match(cli(['provision', '--root', root, '--ovf-env', env]).stdout, /nothing to change/u);
  });
});

test('killed while making keys: no key material in /tmp; the next run removes the leftovers; a dry run leaves nothing', async () => {
  await withSandbox(async (root, dir) => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const env = envFile(dir); // no CA in the properties: one is generated
    const work = join(root, STATE, 'pki-work');
    for (const step of ['pki-ca-key', 'pki-server-key']) {
      const crashed = cli(['provision', '--root', root, '--ovf-env', env], { env: { TMPDIR: tmp, HAPROXY_APPLIANCE_CRASH_AT: step } });
      assert.equal(crashed.code, -1, `${step}: killed (${crashed.stderr})`);
      assert.match(crashed.stderr, new RegExp(`simulated crash at ${step}`, 'u'));
      assert.deepEqual(readdirSync(tmp), [], `${step}: nothing in the temporary folder`);
      // The key was made on the target file system, in its private work folder.
      const left = readdirSync(work);
      assert.equal(left.length, 1, `${step}: ${left.join(', ')}`);
      assert.equal(lstatSync(work).mode & 0o777, 0o700);
      assert.equal(lstatSync(join(work, left[0]!)).mode & 0o777, 0o700);
      assert.ok(
        readdirSync(join(work, left[0]!)).some((f) => f.endsWith('.key')),
        `${step}: the key was there`,
      );
    }
    const next = cli(['provision', '--root', root, '--ovf-env', env], { env: { TMPDIR: tmp } });
    assert.equal(next.code, 0, next.stderr);
    assert.equal(existsSync(work) ? readdirSync(work).length : 0, 0, 'the leftovers are gone');
    assert.deepEqual(readdirSync(tmp), []);

    const fresh = join(dir, 'fresh');
    mkdirSync(fresh);
    const dry = cli(['provision', '--root', fresh, '--ovf-env', env, '--dry-run'], { env: { TMPDIR: tmp } });
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(readdirSync(fresh), [], 'a dry run leaves nothing in the root');
    assert.deepEqual(readdirSync(tmp), [], 'nor in the temporary folder');
  });
});
