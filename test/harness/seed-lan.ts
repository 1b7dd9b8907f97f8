/**
 * The seed's networks around a booted appliance, shared by the nspawn bed (appliance-image.ts)
 * and the VM bed (vm.ts): a router namespace with a bridge per network (management, workload,
 * frontend; it forwards between them), and the hosts on them: the admin's workstation on the
 * management network, a client and the Supervisor's control-plane VMs on the workload network, a
 * client and a guest cluster's API server on the frontend network. The router advertises the
 * seed's IPv6 prefix on the management network (its SLAAC), unless told not to: many management
 * networks have no IPv6 router. The appliance's NICs are not made here: each bed attaches its own
 * to the bridges (`BRIDGE[role]` in the router namespace).
 *
 *   workstation 10.191.180.10/20 ─┐
 *                                 br-mgmt 10.191.191.254   (+ IPv6 RAs: fd01:3:7:404::/64)
 *   wclient 192.168.5.10/16 ─────┐
 *   cpvm 192.168.128.0-2/16 ─────┴ br-wl 192.168.1.1/16
 *   fclient 172.16.10.50/24 ─────┐
 *   guest 172.16.10.3/24 ────────┴ br-fe 172.16.10.1/24
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { VerifyJson, VerifyRun } from './e2e-verdict.js';
import { BUNDLE, HOST_PATH, tail } from './image.js';
import { CPVM_ADDRESSES, GUEST_BACKEND } from './dataplane.js';
import type { ListenHandle, TestBed } from './netns.js';
import { addBridges, SEED_NICS, type Role } from './seed-topology.js';

export const ADDR = {
  management: SEED_NICS.management.address,
  workstation: '10.191.180.10/20',
  wclient: '192.168.5.10/16',
  fclient: '172.16.10.50/24',
  guest: `${GUEST_BACKEND}/24`,
} as const;

/** The bridge of each network, in the router namespace. */
export const BRIDGE: Record<Role, string> = { management: 'br-mgmt', workload: 'br-wl', frontend: 'br-fe' };

export interface SeedLanOptions {
  /** The router sends IPv6 router advertisements on the management network (default true). */
  routerAdvertisements?: boolean;
}

/**
 * Builds the router, the bridges, the hosts and the backends in `bed`; `work` is a folder for the
 * router's networkd units. Returns the backends' listeners (close them at cleanup).
 */
export async function wireSeedLan(bed: TestBed, work: string, opts: SeedLanOptions = {}): Promise<ListenHandle[]> {
  const ra = opts.routerAdvertisements ?? true;
  for (const ns of ['router', 'workstation', 'wclient', 'fclient', 'cpvm', 'guest']) await bed.addNamespace(ns);
  await bed.enableForwarding('router');
  // br-mgmt's addresses and RAs come from networkd below.
  await addBridges(bed, 'router', [
    { name: BRIDGE.management },
    { name: BRIDGE.workload, cidr: SEED_NICS.workload.gwCidr },
    { name: BRIDGE.frontend, cidr: SEED_NICS.frontend.gwCidr },
  ]);
  const hosts: Array<[string, string, string, string[], string | undefined]> = [
    // ns, router port, bridge, addresses, default gateway
    ['workstation', 'ws', BRIDGE.management, [ADDR.workstation], SEED_NICS.management.gw],
    ['wclient', 'wcl', BRIDGE.workload, [ADDR.wclient], SEED_NICS.workload.gw],
    ['cpvm', 'cpvm', BRIDGE.workload, CPVM_ADDRESSES.map((a) => `${a}/16`), SEED_NICS.workload.gw],
    ['fclient', 'fcl', BRIDGE.frontend, [ADDR.fclient], SEED_NICS.frontend.gw],
    ['guest', 'guest', BRIDGE.frontend, [ADDR.guest], SEED_NICS.frontend.gw],
  ];
  for (const [ns, dev, , addrs, gw] of hosts) {
    await bed.link(ns, 'eth0', 'router', dev, { upA: true });
    for (const a of addrs) await bed.addr(ns, 'eth0', a);
    if (gw) await bed.route(ns, `default via ${gw}`);
  }
  for (const [, dev, br] of hosts) await bed.ip('router', ['link', 'set', 'dev', dev, 'master', br]);

  // The management network of the seed has SLAAC (fd01:3:7:404::/64): the router sends RAs,
  // as there. Without them, the network of many a real site: an appliance that waited for IPv6
  // autoconfiguration waited ~12 s for its router solicitations to time out (docs/network.md).
  const units = join(work, 'router-units');
  await mkdir(units, { recursive: true });
  const ipv6 = ra
    ? `Address=fd01:3:7:404::1/64
IPv6SendRA=yes

[IPv6SendRA]
RouterLifetimeSec=0

[IPv6Prefix]
Prefix=fd01:3:7:404::/64
`
    : '';
  await writeFile(
    join(units, '10-br-mgmt.network'),
    `[Match]
Name=${BRIDGE.management}

[Network]
Address=${SEED_NICS.management.gwCidr}
ConfigureWithoutCarrier=yes
IPv6AcceptRA=no
${ipv6}`,
  );
  await bed.runNetworkd('router', units, {
    timeoutMs: 20_000,
    logLevel: 'info',
    until: async (snap) => snap.dump.addrs.some((l) => l.ifname === BRIDGE.management && (l.addr_info ?? []).some((a) => a.local === SEED_NICS.management.gw)),
  });

  // The Supervisor's control-plane VMs (kube-apiserver on 6443, nginx on 443) and a guest
  // cluster's API server: each answers every connection with a JSON line naming itself.
  const starts: Array<Promise<ListenHandle>> = [];
  for (const a of CPVM_ADDRESSES) for (const port of [6443, 443]) starts.push(bed.listen('cpvm', a, port, { maxLifetimeMs: 3_600_000 }));
  starts.push(bed.listen('guest', GUEST_BACKEND, 6443, { maxLifetimeMs: 3_600_000 }));
  return Promise.all(starts);
}

/**
 * `haproxy-appliance verify` (the built bundle) from the workstation namespace to the appliance's
 * management address over SSH, as root with `password` (passed in the environment, never in
 * argv) or the key `identity`, JSON report; `args` adds options (e.g. `--expect FILE`).
 */
export async function verifyFromWorkstation(
  bed: TestBed,
  opts: { knownHosts: string; home: string; password: string; timeoutS: number; args?: string[]; identity?: string },
): Promise<VerifyRun> {
  const t0 = performance.now();
  const r = await execa(
    'ip',
    [
      'netns',
      'exec',
      bed.nsName('workstation'),
      process.execPath,
      BUNDLE,
      'verify',
      `root@${ADDR.management}`,
      // A key (`identity`) instead of the password when given.
      ...(opts.identity !== undefined ? ['--identity', opts.identity] : ['--password-env', 'HPA_E2E_ROOT_PASSWORD']),
      '--known-hosts',
      opts.knownHosts,
      '--accept-new',
      '--timeout',
      String(opts.timeoutS),
      '--json',
      ...(opts.args ?? []),
    ],
    {
      reject: false,
      timeout: opts.timeoutS * 3_000,
      stdin: 'ignore',
      extendEnv: false,
      env: { PATH: HOST_PATH, HOME: opts.home, NO_COLOR: '1', HPA_E2E_ROOT_PASSWORD: opts.password },
    },
  );
  const ms = performance.now() - t0;
  let report: VerifyJson;
  try {
    report = JSON.parse(String(r.stdout)) as VerifyJson;
  } catch {
    throw new Error(`verify printed no JSON report (exit ${r.exitCode}):\n${tail(`${String(r.stdout)}\n${String(r.stderr)}`, 30)}`);
  }
  return { exitCode: r.exitCode ?? -1, ms, report, stderr: String(r.stderr) };
}
