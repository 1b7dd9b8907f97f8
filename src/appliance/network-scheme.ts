/**
 * The appliance's routing scheme in one place: policy routing tables, rule priorities, the PCI
 * slots of the OVA's NICs (the paths of the network files: src/appliance/paths.ts). docs/network.md
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
