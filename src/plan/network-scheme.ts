/**
 * The appliance's routing scheme in one place: policy routing tables, rule priorities, the PCI
 * slots of the OVA's NICs and the paths of every network file the agent owns. docs/network.md
 * explains each number; the golden files and the integration tests assert them.
 */
import type { NicRole } from '../config/types.js';

/**
 * Policy routing tables. Management uses the main table (the appliance's only default route);
 * workload and frontend each get a table of their own holding their link route and their default.
 */
export const ROUTE_TABLE = { workload: 200, frontend: 201 } as const satisfies Record<Exclude<NicRole, 'management'>, number>;
export type PolicyRole = keyof typeof ROUTE_TABLE;
export const POLICY_ROLES: readonly PolicyRole[] = ['workload', 'frontend'];

/**
 * Rule priorities (lower is looked at first; the kernel's own rules are 0 local, 32766 main,
 * 32767 default). Bands of 1000 leave room for one rule per item of a list property.
 *
 * - 1000 + i  `from <service range i> lookup <table of the network that holds it>`
 * - 2000/2001 `from <workload|frontend subnet> lookup 200|201` (static addresses)
 * - 3000/3001 `lookup 200|201 suppress_prefixlength 0` (DHCP: the lease's link route, which
 *             networkd puts only in the NIC's table, serves every source)
 * - 4000 + i  `to <additional workload network i> lookup 200`
 */
export const PRIORITY = {
  serviceRange: 1000,
  subnet: { workload: 2000, frontend: 2001 },
  dhcpLinkRoutes: { workload: 3000, frontend: 3001 },
  additionalWorkloadNetwork: 4000,
} as const;

/** How many items one priority band holds. */
export const BAND_SIZE = 1000;

/** The OVA's virtual hardware: which PCI slot each NIC sits in (a fallback to identify them). */
export const PCI_SLOT: Readonly<Record<NicRole, string>> = {
  management: '0000:03:00.0',
  workload: '0000:0b:00.0',
  frontend: '0000:13:00.0',
};

export const NETWORKD_DIR = '/etc/systemd/network';

export const PATHS = {
  link: (role: NicRole) => `${NETWORKD_DIR}/10-${role}.link`,
  network: (role: NicRole) => `${NETWORKD_DIR}/20-${role}.network`,
  anyip: `${NETWORKD_DIR}/30-lo-anyip.network`,
  hostname: '/etc/hostname',
  hosts: '/etc/hosts',
  rtTables: '/etc/iproute2/rt_tables.d/haproxy-appliance.conf',
  timesyncd: '/etc/systemd/timesyncd.conf.d/50-haproxy-appliance.conf',
  /** LLMNR and mDNS off: resolved's listeners on 0.0.0.0 would answer on every VIP (AnyIP). */
  resolved: '/etc/systemd/resolved.conf.d/50-haproxy-appliance.conf',
} as const;

/** Every network-related path the agent may write; what a plan does not write it removes. */
export function ownedNetworkPaths(): string[] {
  const roles: NicRole[] = ['management', 'workload', 'frontend'];
  return [
    ...roles.map(PATHS.link),
    ...roles.map(PATHS.network),
    PATHS.anyip,
    PATHS.rtTables,
    PATHS.timesyncd,
    PATHS.resolved,
  ];
}
