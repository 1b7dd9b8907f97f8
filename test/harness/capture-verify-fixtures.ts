/**
 * Captures the real outputs the verifier's parsers are tested on, from a seed appliance built in
 * network namespaces (appliance-bed.ts: real systemd-networkd on the planned units, real sshd,
 * real haproxy 2.6): `ss -Htnlp`, `netstat -tnlp`, `ip -j …` and their text forms, `haproxy -c`
 * (valid and broken), `ps`, `systemctl is-active` without systemd, and the whole collection
 * script's stdout/stderr with a fixed marker — healthy, and with haproxy stopped and the AnyIP
 * route removed. Writes test/fixtures/verify/bed/. Run as root:
 *
 *   node --import tsx test/harness/capture-verify-fixtures.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateProperties } from '../../src/config/validate.js';
import { collectionScript } from '../../src/verify/script.js';
import { SEED_MACS, SEED_PROPERTIES } from './ovf.js';
import { ROOT, World, makePki, SEED_SANS, sha512crypt, sshKeygen } from './verify-bed.js';

export const FIXED_MARKER = '@@hpa-0123456789abcdef@@';
const OUT = join(ROOT, 'test/fixtures/verify/bed');

const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;
const world = await World.create();
try {
  await mkdir(OUT, { recursive: true });
  const pki = await makePki(join(world.dir, 'pki'), SEED_SANS);
  const hostKey = await sshKeygen(join(world.dir, 'host_key'));
  const a = await world.addAppliance({
    name: 'app',
    config,
    macs: SEED_MACS,
    network: 'networkd',
    pki,
    hostKey,
    authorizedKeys: [],
    rootPasswordHash: await sha512crypt('vmware'),
  });
  const save = async (name: string, text: string) => writeFile(join(OUT, name), text);
  const run = async (name: string, argv: string[]) => {
    const r = await a.exec(argv);
    await save(name, r.stdout);
    return r;
  };
  await run('ss-Htnlp.txt', ['ss', '-Htnlp']);
  await run('netstat-tnlp.txt', ['netstat', '-tnlp']);
  await run('ip-j-addr.json', ['ip', '-j', 'addr']);
  await run('ip-j-route-all.json', ['ip', '-4', '-j', 'route', 'show', 'table', 'all']);
  await run('ip-j-rule.json', ['ip', '-4', '-j', 'rule']);
  await run('ip-r.txt', ['ip', 'r']);
  await run('ip-route-all.txt', ['ip', '-4', 'route', 'show', 'table', 'all']);
  await run('ip-rule.txt', ['ip', '-4', 'rule']);
  await run('ip-addr.txt', ['ip', 'addr']);
  const check = await a.exec(['haproxy', '-c', '-f', '/etc/haproxy/haproxy.cfg']);
  await save('haproxy-c-valid.txt', `${check.stdout}${check.stderr}`);
  await save('haproxy.cfg', await a.readHaproxyCfg());
  const sysctl = await a.exec(['systemctl', 'is-active', 'haproxy']);
  await save('systemctl-no-systemd.txt', `exit ${sysctl.code}\n${sysctl.stdout}${sysctl.stderr}`);

  const collect = async (name: string) => {
    const r = await a.exec(['/bin/sh', '-s'], collectionScript(FIXED_MARKER));
    await save(`${name}.stdout`, r.stdout);
    await save(`${name}.stderr`, r.stderr);
  };
  await collect('collect-healthy');

  // haproxy -c failing: a bind on a frontend with an unknown keyword.
  const cfg = await a.readHaproxyCfg();
  await a.writeHaproxyCfg(`${cfg}\nfrontend broken\n  bind 192.168.0.9:443 no-such-keyword\n`);
  const bad = await a.exec(['haproxy', '-c', '-f', '/etc/haproxy/haproxy.cfg']);
  await save('haproxy-c-invalid.txt', `exit ${bad.code}\n${bad.stdout}${bad.stderr}`);
  await a.writeHaproxyCfg(cfg);

  // Broken appliance: haproxy stopped, the AnyIP route gone, the API on the wrong port.
  await a.stopHaproxy();
  await a.ip(['route', 'del', 'local', '192.168.0.0/24', 'dev', 'lo', 'table', 'local']);
  await a.stopDataplane();
  await a.startDataplane(5557);
  await collect('collect-broken');
  process.stdout.write(`fixtures written to ${OUT}\n`);
} finally {
  await world.cleanup();
}
