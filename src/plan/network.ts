/**
 * The appliance's network as data: from the validated configuration and the NIC identities to
 * every address, route, rule and setting the networkd units must carry. Pure and deterministic;
 * rendering it into unit files is src/render/network.ts. docs/network.md explains the design.
 */
import type { ApplianceConfig, NicConfig, NicRole } from '../config/types.js';
import { contains, parseCidr, type Cidr } from '../config/ipv4.js';
import type { NicAssignment } from './types.js';
import { POLICY_ROLES, PRIORITY, ROUTE_TABLE, type PolicyRole } from '../appliance/network-scheme.js';

/** One [Route] section. `table` undefined means the main table. */
export interface RouteSpec {
  comment: string;
  destination?: string;
  gateway?: string;
  gatewayOnLink?: boolean;
  scope?: 'link' | 'host';
  preferredSource?: string;
  type?: 'local';
  table?: number | 'local';
  /** Set on the routes of `network.static_routes` (the verifier checks those by route.static). */
  staticRoute?: true;
}

/** One [RoutingPolicyRule] section. */
export interface RuleSpec {
  comment: string;
  priority: number;
  table: number;
  from?: string;
  to?: string;
  suppressPrefixLength?: number;
}

/** One NIC's .network unit. */
export interface NicNetwork {
  role: NicRole;
  mac: string;
  /** The NIC's policy routing table (workload, frontend); undefined for management (main). */
  table?: number;
  /** Static address; undefined means DHCP. */
  address?: string;
  dhcp: boolean;
  /** [Network] Gateway=: the main table's default route (static management only). */
  gateway?: string;
  dns: string[];
  domains: string[];
  /** [DHCPv4] settings, in order. */
  dhcpv4: { key: string; value: string }[];
  routes: RouteSpec[];
  rules: RuleSpec[];
}

/** Where replies from one service range are routed, and why. */
export interface VipPlacement {
  range: string;
  /** The NIC whose network the VIPs live on. */
  role: NicRole;
  /** Its table; `main` for management (no rule needed). */
  table: number | 'main';
  reason: string;
}

/** Where one `network.static_routes` entry goes: the NIC whose subnet holds its gateway, and which tables. */
export interface StaticRoutePlacement {
  destination: string;
  gateway: string;
  role: NicRole;
  /** `main` always; the NIC's own table too for workload and frontend. */
  tables: Array<number | 'main'>;
}

export interface NetworkModel {
  deployment: ApplianceConfig['deployment'];
  nics: NicNetwork[];
  /** `local <range> dev lo` routes (table local), one per service range. */
  anyip: RouteSpec[];
  vips: VipPlacement[];
  staticRoutes: StaticRoutePlacement[];
  tables: { role: PolicyRole; id: number }[];
  hostname: {
    /** What /etc/hostname holds: the FQDN, or its first label when longer than 64 characters. */
    static: string;
    fqdn: string;
    short: string;
    /** The address /etc/hosts gives the name: the static management address, else 127.0.1.1. */
    hostsAddress: string;
  };
  ntp: string[];
}

const cidr = (text: string): Cidr => {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new Error(`internal: ${text} is not a CIDR (${c})`);
  return c;
};

/** Whether network `inner` lies entirely inside network `outer`. */
export function within(inner: string, outer: string): boolean {
  const i = cidr(inner);
  const o = cidr(outer);
  return i.prefix >= o.prefix && contains(o, i.networkAddress);
}

/**
 * The network a service range's VIPs live on: the NIC whose static subnet holds the range; a
 * range outside every known subnet lives on the deployment's VIP network (frontend in the
 * frontend deployment, workload in the default one). CIDRs either nest or are disjoint, and
 * validation refuses a range that holds a NIC's own address, so "holds" is unambiguous.
 */
export function placeServiceRange(config: ApplianceConfig, range: string): VipPlacement {
  const nics = [config.network.management, config.network.workload, ...(config.network.frontend ? [config.network.frontend] : [])];
  const holder = nics.find((n) => n.address && within(range, n.address.network));
  if (holder) {
    const net = holder.address!.network;
    if (holder.role === 'management') {
      return { range, role: 'management', table: 'main', reason: `inside the management network ${net}: replies use the main table, no rule needed` };
    }
    return { range, role: holder.role, table: ROUTE_TABLE[holder.role], reason: `inside the ${holder.role} network ${net}` };
  }
  const role: PolicyRole = config.deployment === 'frontend' ? 'frontend' : 'workload';
  return {
    range,
    role,
    table: ROUTE_TABLE[role],
    reason: `outside every static NIC network: the ${config.deployment} deployment's VIPs live on the ${role} network`,
  };
}

/**
 * The NIC that carries each static route: the one whose static subnet holds the gateway
 * (validation guarantees there is one). On management the route goes in the main table (where
 * management's routes live); on workload or frontend in the NIC's table, so that replies from
 * its addresses and VIPs to that network take the route, and in the main table, so that
 * connections the appliance opens (haproxy to backends there) take it too.
 */
export function placeStaticRoutes(config: ApplianceConfig): StaticRoutePlacement[] {
  const nics = [config.network.management, config.network.workload, ...(config.network.frontend ? [config.network.frontend] : [])];
  return config.network.staticRoutes.map(({ destination, gateway }) => {
    const holder = nics.find((n) => n.address && contains(cidr(n.address.network), gateway));
    if (!holder) throw new Error(`internal: no static NIC subnet holds the gateway of ${destination} via ${gateway}`);
    const tables: StaticRoutePlacement['tables'] = holder.role === 'management' ? ['main'] : [ROUTE_TABLE[holder.role], 'main'];
    return { destination, gateway, role: holder.role, tables };
  });
}

/** The [Route] sections of the static routes a NIC carries. */
function staticRouteSpecs(placements: StaticRoutePlacement[], role: NicRole): RouteSpec[] {
  return placements
    .filter((p) => p.role === role)
    .flatMap((p) =>
      p.tables.map((t): RouteSpec => ({
        comment:
          t === 'main'
            ? `network.static_routes, main table: ${p.destination} via ${p.gateway}${role === 'management' ? '' : ' (connections the appliance opens)'}.`
            : `network.static_routes, table ${t} (${role}): ${p.destination} via ${p.gateway} (replies from the ${role} addresses and VIPs).`,
        destination: p.destination,
        gateway: p.gateway,
        ...(t !== 'main' && { table: t }),
        staticRoute: true,
      })),
    );
}

function dhcpSettings(nic: NicConfig, options: { table?: number; useDNS: boolean; useNTP: boolean; useDomains?: false }): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [{ key: 'ClientIdentifier', value: 'mac' }];
  if (options.table !== undefined) out.push({ key: 'RouteTable', value: String(options.table) });
  if (nic.gateway) out.push({ key: 'UseGateway', value: 'no' });
  if (!options.useDNS) out.push({ key: 'UseDNS', value: 'no' });
  if (!options.useNTP) out.push({ key: 'UseNTP', value: 'no' });
  if (options.useDomains === false) out.push({ key: 'UseDomains', value: 'no' });
  out.push({ key: 'UseHostname', value: 'no' });
  return out;
}

function managementNetwork(config: ApplianceConfig, mac: string, domains: string[], statics: StaticRoutePlacement[]): NicNetwork {
  const nic = config.network.management;
  const dhcp = !nic.address;
  const routes: RouteSpec[] = [];
  if (dhcp && nic.gateway) {
    routes.push({
      comment: 'The default route via network.management_gateway (the address itself comes from DHCP).',
      gateway: nic.gateway,
      gatewayOnLink: true,
    });
  }
  routes.push(...staticRouteSpecs(statics, 'management'));
  return {
    role: 'management',
    mac,
    dhcp,
    ...(nic.address && { address: nic.address.cidr }),
    ...(!dhcp && nic.gateway && { gateway: nic.gateway }),
    dns: config.network.nameservers,
    domains,
    dhcpv4: dhcp
      ? dhcpSettings(nic, {
          useDNS: config.network.nameservers.length === 0,
          useNTP: config.network.ntpServers.length === 0,
          // network.search_domains replaces the lease's domains (networkd's default is no already; said explicitly).
          ...(config.network.searchDomains.length > 0 && { useDomains: false as const }),
        })
      : [],
    routes,
    rules: [],
  };
}

function policyNetwork(config: ApplianceConfig, role: PolicyRole, mac: string, vips: VipPlacement[], statics: StaticRoutePlacement[]): NicNetwork {
  const nic = (role === 'workload' ? config.network.workload : config.network.frontend)!;
  const table = ROUTE_TABLE[role];
  const dhcp = !nic.address;
  const routes: RouteSpec[] = [];
  const rules: RuleSpec[] = [];

  if (nic.address) {
    routes.push({
      comment: `Table ${table} (${role}): the link route of the ${role} network.`,
      destination: nic.address.network,
      scope: 'link',
      preferredSource: nic.address.address,
      table,
    });
  }
  if (nic.gateway) {
    routes.push({
      comment: `Table ${table} (${role}): the default route via the ${role} gateway. The main table never gets one from this NIC.`,
      gateway: nic.gateway,
      ...(dhcp && { gatewayOnLink: true }),
      table,
    });
  }
  routes.push(...staticRouteSpecs(statics, role));

  config.loadbalance.serviceIpRanges.forEach((range, i) => {
    const vip = vips[i]!;
    if (vip.table !== table) return;
    rules.push({
      comment: `Replies from the VIPs in ${range} (${vip.reason}) leave through ${role}.`,
      priority: PRIORITY.serviceRange + i,
      table,
      from: range,
    });
  });
  if (nic.address) {
    rules.push({ comment: `Replies from the ${role} network leave through ${role}.`, priority: PRIORITY.subnet[role], table, from: nic.address.network });
  } else {
    rules.push({
      comment: `DHCP puts the lease's link route in table ${table} only: let every source use it (but not the table's default route).`,
      priority: PRIORITY.dhcpLinkRoutes[role],
      table,
      suppressPrefixLength: 0,
    });
  }
  if (role === 'workload') {
    config.network.additionalWorkloadNetworks.forEach((net, i) => {
      rules.push({
        comment: `${net} (network.additional_workload_networks) is reached through the workload gateway.`,
        priority: PRIORITY.additionalWorkloadNetwork + i,
        table,
        to: net,
      });
    });
  }

  return {
    role,
    mac,
    table,
    dhcp,
    ...(nic.address && { address: nic.address.cidr }),
    dns: [],
    domains: [],
    dhcpv4: dhcp ? dhcpSettings(nic, { table, useDNS: false, useNTP: false }) : [],
    routes,
    rules,
  };
}

/**
 * The whole network model. `nics` must hold one assignment per role of the deployment. The
 * configuration is valid (validateProperties): no input rule lives here, so whatever `validate`
 * accepts, planning accepts.
 */
export function networkModel(config: ApplianceConfig, nics: NicAssignment[]): NetworkModel {
  const mac = (role: NicRole): string => {
    const a = nics.find((n) => n.role === role);
    if (!a) throw new Error(`internal: no NIC assignment for ${role}`);
    return a.mac;
  };
  // Validation caps both lists at the priority band's size (src/config/limits.ts): one rule each fits.

  const fqdn = config.network.hostname.replace(/\.$/u, '');
  const dot = fqdn.indexOf('.');
  const short = dot < 0 ? fqdn : fqdn.slice(0, dot);
  // network.search_domains replaces the host name's domain as the search list.
  const domains = config.network.searchDomains.length ? config.network.searchDomains : dot < 0 ? [] : [fqdn.slice(dot + 1)];
  const statics = placeStaticRoutes(config);

  const vips = config.loadbalance.serviceIpRanges.map((r) => placeServiceRange(config, r));
  const policyRoles = POLICY_ROLES.filter((r) => r === 'workload' || config.network.frontend);
  return {
    deployment: config.deployment,
    nics: [managementNetwork(config, mac('management'), domains, statics), ...policyRoles.map((r) => policyNetwork(config, r, mac(r), vips, statics))],
    anyip: config.loadbalance.serviceIpRanges.map((range) => ({
      comment: `AnyIP: the appliance answers for, and haproxy may bind, every address in ${range}.`,
      destination: range,
      type: 'local',
      table: 'local',
    })),
    vips,
    staticRoutes: statics,
    tables: policyRoles.map((role) => ({ role, id: ROUTE_TABLE[role] })),
    hostname: {
      static: fqdn.length <= 64 ? fqdn : short,
      fqdn,
      short,
      hostsAddress: config.network.management.address?.address ?? '127.0.1.1',
    },
    ntp: config.network.ntpServers,
  };
}

/** Live NICs to rename to their role name (empty in the sandbox, or when all are named). */
export function renamesFor(assignments: NicAssignment[]): { from: string; to: NicRole }[] {
  return assignments.filter((a) => a.currentName !== undefined && a.currentName !== a.role).map((a) => ({ from: a.currentName!, to: a.role }));
}
