/**
 * The seed's network, built once for every bed: the appliance's three NICs (management, workload,
 * frontend) with the seed's MACs, addresses and gateways — read from the seed's own OVF
 * environment (examples/ovf-env.xml) — and the wiring every bed uses for them: a veth pair per NIC
 * from the appliance's namespace to a peer (a gateway or router namespace, optionally on a bridge
 * there), the appliance's end down, as a NIC at first boot.
 *
 * Used by netbed-appliance.ts (routers per network), verify-bed.ts (one gateway namespace with a
 * bridge per network), appliance-image.ts (a router with bridges, for the booted image) and the
 * bed's own test (test/integration/harness/netns.test.ts).
 */
import { SEED_MACS, SEED_PROPERTIES } from './ovf.js';
import type { TestBed } from './netns.js';

export type Role = 'management' | 'workload' | 'frontend';
export const ROLES: readonly Role[] = ['management', 'workload', 'frontend'];

export interface SeedNic {
  mac: string;
  /** The appliance's address with its prefix (`10.191.181.52/20`), and without (`10.191.181.52`). */
  cidr: string;
  address: string;
  /** The network's gateway, and the gateway's address with the network's prefix (for its side). */
  gw: string;
  gwCidr: string;
}

function seedNic(role: Role): SeedNic {
  const cidr = SEED_PROPERTIES[`network.${role}_ip`]!;
  const gw = SEED_PROPERTIES[`network.${role}_gateway`]!;
  const [address, prefix] = cidr.split('/') as [string, string];
  return { mac: SEED_MACS[role], cidr, address, gw, gwCidr: `${gw}/${prefix}` };
}

/** The seed's NICs (examples/ovf-env.xml). */
export const SEED_NICS: Record<Role, SeedNic> = { management: seedNic('management'), workload: seedNic('workload'), frontend: seedNic('frontend') };

/** The seed's `ip r` (ignoring proto): what its main table holds once networkd configured it. */
export const SEED_MAIN_TABLE = [
  `default via ${SEED_NICS.management.gw} dev management`,
  '10.191.176.0/20 dev management scope link src 10.191.181.52',
  '172.16.10.0/24 dev frontend scope link src 172.16.10.2',
  '192.168.0.0/16 dev workload scope link src 192.168.1.2',
];

/** Where the other end of an appliance NIC goes. */
export interface NicPeer {
  /** Short namespace name of the peer end. */
  ns: string;
  /** Name of the peer end. */
  dev: string;
  /** A bridge in the peer's namespace that the peer end joins. */
  bridge?: string;
}

export interface ApplianceNicsOptions {
  /** Short name of the appliance's namespace (default `appliance`; it must exist). */
  ns?: string;
  /** The NICs to create, in this order: the kernel names eth0, eth1, … follow it. */
  order: readonly Role[];
  /** MACs of the appliance's ends (default: the seed's). */
  macs?: Partial<Record<Role, string>>;
  /** The appliance's name for a NIC; undefined (the default) keeps its kernel name, as at first boot. */
  name?: (role: Role) => string | undefined;
  peer: (role: Role) => NicPeer;
}

/**
 * Creates the appliance's NICs: for each role in `order`, a veth pair from the appliance's
 * namespace (its end down, with the role's MAC) to `peer(role)` (up; on its bridge if it names
 * one). Returns both names per role.
 */
export async function addApplianceNics(bed: TestBed, opts: ApplianceNicsOptions): Promise<Partial<Record<Role, { a: string; b: string }>>> {
  const out: Partial<Record<Role, { a: string; b: string }>> = {};
  for (const role of opts.order) {
    const peer = opts.peer(role);
    out[role] = await bed.link(opts.ns ?? 'appliance', opts.name?.(role), peer.ns, peer.dev, { macA: opts.macs?.[role] ?? SEED_NICS[role].mac });
    if (peer.bridge) await bed.ip(peer.ns, ['link', 'set', 'dev', peer.dev, 'master', peer.bridge]);
  }
  return out;
}

/** Bridges in `ns` (STP off, no forward delay), up, each with its address when given. */
export async function addBridges(bed: TestBed, ns: string, bridges: ReadonlyArray<{ name: string; cidr?: string }>): Promise<void> {
  for (const br of bridges) {
    await bed.ip(ns, ['link', 'add', br.name, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    await bed.up(ns, br.name);
    if (br.cidr) await bed.addr(ns, br.name, br.cidr);
  }
}
