/**
 * Network: the NICs' addresses, the main table's default and link routes, the policy tables and
 * rules the agent's model expects, and where additional workload networks are routed.
 */
import type { NetworkModel, NicNetwork, RuleSpec } from '../../plan/network.js';
import { ROUTE_TABLE } from '../../appliance/network-scheme.js';
import { NETWORK_PATHS as PATHS } from '../../appliance/paths.js';
import { nicsOf } from '../expected.js';
import { describeLookup, lookupRoute } from '../routing.js';
import type { CheckResult, Rule } from '../types.js';
import type { Check, CheckContext } from './check.js';
import { firstHost, ipUnknown, plural, r, routeText } from './helpers.js';

function checkAddresses(input: CheckContext): CheckResult[] {
  const id = 'network.address';
  const cfg = input.expected?.config;
  if (!cfg) return [];
  if (!input.observed.interfaces) return [ipUnknown(id, input.observed)];
  return nicsOf(cfg).map((nic) => {
    const live = input.observed.interfaces!.find((i) => i.name === nic.role);
    if (!live) {
      const names = input.observed.interfaces!.map((i) => i.name).join(', ');
      return r(
        id,
        'fail',
        `there is no interface named ${nic.role} (interfaces: ${names})`,
        'the NICs were not renamed: rerun haproxy-appliance provision (it writes /etc/systemd/network/10-<role>.link) and reboot, or check the NIC MACs (--nics)',
        nic.role,
      );
    }
    if (!live.up) return r(id, 'fail', `${nic.role} is down`, `ip link set ${nic.role} up; networkctl status ${nic.role}`, nic.role);
    if (!nic.address) {
      if (live.ipv4.length === 0)
        return r(
          id,
          'fail',
          `${nic.role} has no IPv4 address (DHCP)`,
          `the DHCP server of the ${nic.role} network did not answer: networkctl status ${nic.role}`,
          nic.role,
        );
      return r(id, 'pass', `${nic.role} has ${live.ipv4.join(', ')} (DHCP)`, undefined, nic.role);
    }
    if (live.ipv4.includes(nic.address.cidr)) {
      const extra = live.ipv4.filter((a) => a !== nic.address!.cidr);
      return r(
        id,
        extra.length ? 'warn' : 'pass',
        `${nic.role} has ${nic.address.cidr}${extra.length ? `, and also ${extra.join(', ')}` : ''}`,
        extra.length ? `remove addresses the properties do not give: ip addr del ADDRESS dev ${nic.role}` : undefined,
        nic.role,
      );
    }
    return r(
      id,
      'fail',
      `${nic.role} has ${live.ipv4.join(', ') || 'no IPv4 address'}, not ${nic.address.cidr} (network.${nic.role}_ip)`,
      'rerun haproxy-appliance provision, then networkctl reload',
      nic.role,
    );
  });
}

function checkDefaultRoute(input: CheckContext): CheckResult {
  const id = 'route.default';
  const cfg = input.expected?.config;
  if (!cfg) return r(id, 'skip', 'not checked: no expected configuration');
  const observed = input.observed;
  if (!observed.routes) return ipUnknown(id, observed);
  const gw = cfg.network.management.gateway;
  const defaults = observed.routes.filter((x) => x.table === 'main' && x.dst === 'default' && x.type === 'unicast');
  if (!gw) {
    if (defaults.length === 0) return r(id, 'pass', 'no default route, as configured (network.management_gateway is not set)');
    return r(
      id,
      'warn',
      `network.management_gateway is not set, but the main table has ${defaults.map(routeText).join(', ')}`,
      'set network.management_gateway, or remove the route',
    );
  }
  const want = `default via ${gw} dev management`;
  const good = defaults.filter((x) => x.gateway === gw && x.dev === 'management');
  const others = defaults.filter((x) => !good.includes(x));
  if (good.length && !others.length) return r(id, 'pass', want);
  if (good.length) {
    return r(
      id,
      'fail',
      `${want} is there, but so is ${others.map(routeText).join(', ')}: traffic may leave by the wrong NIC`,
      'only the management NIC may put a default route in the main table: rerun haproxy-appliance provision, then networkctl reload',
    );
  }
  const mgmt = observed.interfaces?.find((i) => i.name === 'management');
  const cause = !mgmt
    ? 'there is no interface named management'
    : !mgmt.up
      ? 'the management interface is down'
      : others.length
        ? `the main table has ${others.map(routeText).join(', ')} instead`
        : 'the main table has no default route';
  return r(
    id,
    'fail',
    `no ${want}: ${cause}`,
    `rerun haproxy-appliance provision, then networkctl reload (or now: ip route replace default via ${gw} dev management)`,
  );
}

function checkLinkRoutes(input: CheckContext): CheckResult[] {
  const id = 'route.link';
  const cfg = input.expected?.config;
  if (!cfg) return [];
  const observed = input.observed;
  if (!observed.routes) return [ipUnknown(id, observed)];
  return nicsOf(cfg)
    .filter((n) => n.address)
    .map((nic) => {
      const a = nic.address!;
      const found = observed.routes!.find((x) => x.table === 'main' && x.dst === a.network && x.dev === nic.role && !x.gateway);
      if (found) return r(id, 'pass', `${a.network} dev ${nic.role}${found.prefsrc ? ` src ${found.prefsrc}` : ''}`, undefined, nic.role);
      const wrong = observed.routes!.find((x) => x.table === 'main' && x.dst === a.network);
      return r(
        id,
        'fail',
        wrong
          ? `${a.network} is routed as ${routeText(wrong)}, not dev ${nic.role}`
          : `no link route ${a.network} dev ${nic.role} in the main table${observed.interfaces?.find((i) => i.name === nic.role)?.ipv4.includes(a.cidr) ? '' : ` (${nic.role} does not have ${a.cidr})`}`,
        'networkctl reload (the kernel adds the link route with the address)',
        nic.role,
      );
    });
}

function policyNics(model: NetworkModel): (NicNetwork & { table: number })[] {
  return model.nics.filter((n): n is NicNetwork & { table: number } => n.table !== undefined);
}

function checkPolicyTables(input: CheckContext, model: NetworkModel): CheckResult[] {
  const id = 'route.table';
  const observed = input.observed;
  const nics = policyNics(model);
  if (!observed.routes) return nics.length ? [ipUnknown(id, observed)] : [];
  return nics.map((nic) => {
    const table = String(nic.table);
    const live = observed.routes!.filter((x) => x.table === table);
    const missing: string[] = [];
    const found: string[] = [];
    for (const want of nic.routes.filter((x) => x.table === nic.table && !x.staticRoute)) {
      const dst = want.destination ?? 'default';
      const hit = live.find((x) => x.dst === dst && (want.gateway ? x.gateway === want.gateway : !x.gateway) && (!x.dev || x.dev === nic.role));
      const text = `${dst}${want.gateway ? ` via ${want.gateway}` : ''} dev ${nic.role} table ${table}`;
      (hit ? found : missing).push(text);
    }
    const extraDefaults = live.filter((x) => x.dst === 'default' && !nic.routes.some((w) => !w.destination && w.gateway === x.gateway));
    const subject = `${nic.role} (table ${table})`;
    if (missing.length === 0 && extraDefaults.length === 0) {
      return r(id, 'pass', found.length ? found.join('; ') : `table ${table} needs no static routes (DHCP)`, undefined, subject);
    }
    const parts = [
      missing.length ? `missing: ${missing.join('; ')}` : '',
      extraDefaults.length ? `unexpected: ${extraDefaults.map(routeText).join('; ')}` : '',
    ].filter(Boolean);
    const cause =
      live.length === 0
        ? ` (table ${table} is empty${observed.interfaces?.find((i) => i.name === nic.role)?.up === false ? `: ${nic.role} is down` : ''})`
        : '';
    return r(
      id,
      'fail',
      `${parts.join('; ')}${cause}`,
      `rerun haproxy-appliance provision, then networkctl reload (${PATHS.network(nic.role)} holds these routes)`,
      subject,
    );
  });
}

function ruleText(x: { priority: number; from?: string; to?: string; table?: string | number; suppressPrefixLength?: number; action?: string }): string {
  const from = x.from && x.from !== 'all' ? x.from : 'all';
  const to = x.to && x.to !== 'all' ? ` to ${x.to}` : '';
  const act = x.table !== undefined ? `lookup ${x.table}` : (x.action ?? '');
  const sup = x.suppressPrefixLength !== undefined ? ` suppress_prefixlength ${x.suppressPrefixLength}` : '';
  return `${x.priority}: from ${from}${to} ${act}${sup}`;
}

function ruleMatches(live: Rule, want: RuleSpec): boolean {
  return (
    live.priority === want.priority &&
    live.table === String(want.table) &&
    live.from === (want.from ?? 'all') &&
    live.to === (want.to ?? 'all') &&
    (live.suppressPrefixLength ?? undefined) === want.suppressPrefixLength &&
    !live.not
  );
}

function checkRules(input: CheckContext, model: NetworkModel): CheckResult[] {
  const id = 'rule';
  const observed = input.observed;
  const nics = policyNics(model);
  if (!observed.rules) return nics.length ? [ipUnknown(id, observed)] : [];
  return nics.map((nic) => {
    const table = String(nic.table);
    const subject = `${nic.role} (table ${table})`;
    const problems: string[] = [];
    for (const want of nic.rules) {
      const hits = observed.rules!.filter((x) => ruleMatches(x, want));
      const wantText = ruleText({ ...want, table });
      if (hits.length === 0) {
        const atPrio = observed.rules!.filter((x) => x.priority === want.priority);
        problems.push(
          atPrio.length ? `rule ${want.priority} is \`${atPrio.map(ruleText).join('`, `')}\`, not \`${wantText}\`` : `rule \`${wantText}\` is missing`,
        );
      } else if (hits.length > 1) problems.push(`rule \`${wantText}\` is there ${hits.length} times`);
    }
    const stray = observed.rules!.filter((x) => x.table === table && !nic.rules.some((w) => ruleMatches(x, w)));
    if (stray.length) problems.push(`unexpected: \`${stray.map(ruleText).join('`, `')}\``);
    if (problems.length === 0) {
      return r(
        id,
        'pass',
        `${plural(nic.rules.length, 'rule')} into table ${table}, each once: ${nic.rules.map((w) => ruleText({ ...w, table })).join('; ')}`,
        undefined,
        subject,
      );
    }
    return r(
      id,
      'fail',
      problems.join('; '),
      `rerun haproxy-appliance provision, then networkctl reload (${PATHS.network(nic.role)} holds the [RoutingPolicyRule] sections); a duplicate goes with ip rule del priority N`,
      subject,
    );
  });
}

function checkAdditionalNetworks(input: CheckContext): CheckResult[] {
  const id = 'route.additional';
  const cfg = input.expected?.config;
  if (!cfg || cfg.network.additionalWorkloadNetworks.length === 0) return [];
  const observed = input.observed;
  if (!observed.routes || !observed.rules) return [ipUnknown(id, observed)];
  const gw = cfg.network.workload.gateway;
  return cfg.network.additionalWorkloadNetworks.map((net) => {
    const probe = firstHost(net);
    const l = lookupRoute(observed.routes!, observed.rules!, probe);
    const ok = l.verdict === 'route' && l.route?.dev === 'workload' && (!gw || l.route.gateway === gw);
    if (ok) return r(id, 'pass', `${net} is routed ${describeLookup(l)}`, undefined, net);
    return r(
      id,
      'fail',
      `${net} is routed ${describeLookup(l)}, not via ${gw ?? 'the workload gateway'} dev workload`,
      `rule ${'to ' + net} lookup ${ROUTE_TABLE.workload} and table ${ROUTE_TABLE.workload}'s default route are needed: rerun haproxy-appliance provision, then networkctl reload`,
      net,
    );
  });
}

/** Why `role` cannot carry a route through its gateway, when the collected state says. */
function nicCause(input: CheckContext, role: string): string {
  const live = input.observed.interfaces?.find((i) => i.name === role);
  if (!input.observed.interfaces) return '';
  if (!live) return ` (there is no interface named ${role})`;
  if (!live.up) return ` (${role} is down)`;
  if (live.ipv4.length === 0) return ` (${role} has no IPv4 address, so its gateway is unreachable)`;
  return '';
}

function checkStaticRoutes(input: CheckContext, model: NetworkModel): CheckResult[] {
  const id = 'route.static';
  if (model.staticRoutes.length === 0) return [];
  const observed = input.observed;
  if (!observed.routes) return [ipUnknown(id, observed)];
  return model.staticRoutes.map((p) => {
    const want = `${p.destination} via ${p.gateway} dev ${p.role}`;
    const tableName = (t: number | 'main') => (t === 'main' ? 'the main table' : `table ${t}`);
    const missing: string[] = [];
    for (const t of p.tables) {
      const table = String(t);
      const inTable = observed.routes!.filter((x) => x.table === table && x.dst === p.destination);
      if (inTable.some((x) => x.gateway === p.gateway && x.dev === p.role && x.type === 'unicast')) continue;
      missing.push(`${tableName(t)}${inTable.length ? ` routes it as ${inTable.map(routeText).join(', ')}` : ' lacks it'}`);
    }
    const where = p.tables.map(tableName).join(' and ');
    if (missing.length === 0) return r(id, 'pass', `${want} in ${where}`, undefined, p.destination);
    const now = p.tables.map((t) => `ip route replace ${want}${t === 'main' ? '' : ` table ${t}`}`).join('; ');
    return r(
      id,
      'fail',
      `${want} (network.static_routes) is missing: ${missing.join('; ')}${nicCause(input, p.role)}`,
      `rerun haproxy-appliance provision, then networkctl reload (${PATHS.network(p.role)} holds the route); at once: ${now}`,
      p.destination,
    );
  });
}

export const NETWORK_CHECKS: readonly Check[] = [
  {
    id: 'network.address',
    family: 'network',
    subject: 'NIC role',
    doc: 'the NIC named after its role exists, is up and has its `network.<role>_ip` (DHCP: has an address)',
    problems: 'fail: no such interface (NICs not renamed), down, other address; warn: extra addresses',
    run: (input) => checkAddresses(input),
  },
  {
    id: 'route.default',
    family: 'network',
    doc: '`default via <management gateway> dev management`, and no other default in the main table',
    problems: 'fail: missing (and why: NIC missing/down), or a second default route',
    run: (input) => [checkDefaultRoute(input)],
  },
  {
    id: 'route.link',
    family: 'network',
    subject: 'NIC role',
    doc: 'the link route of each static NIC in the main table',
    problems: 'fail: missing or pointing elsewhere',
    run: (input) => checkLinkRoutes(input),
  },
  {
    id: 'route.table',
    family: 'network',
    subject: '`workload (table 200)`, `frontend (table 201)`',
    doc: "the policy table holds its link route and its default route via the NIC's gateway",
    problems: 'fail: lists what is missing and any unexpected default',
    run: (input) => (input.model ? checkPolicyTables(input, input.model) : []),
  },
  {
    id: 'rule',
    family: 'network',
    subject: 'as `route.table`',
    doc: 'every rule the model expects into that table (service ranges 1000+i, subnet 2000/2001, DHCP 3000/3001, additional networks 4000+i) exists exactly once, and no other rule points at the table',
    problems: 'fail: missing, at that priority but different, duplicated, or unexpected',
    run: (input) => (input.model ? checkRules(input, input.model) : []),
  },
  {
    id: 'route.additional',
    family: 'network',
    subject: 'network',
    doc: "each `network.additional_workload_networks` entry is routed via the workload gateway on `workload` (by a model of the kernel's rule + longest-prefix lookup over the collected rules and routes)",
    problems: 'fail: where it goes instead',
    run: (input) => checkAdditionalNetworks(input),
  },
  {
    id: 'route.static',
    family: 'network',
    subject: 'network',
    doc: "each `network.static_routes` entry is in the table(s) of the NIC whose subnet holds its gateway: management's in the main table, workload's and frontend's in their table (200/201) and in the main table",
    problems: 'fail: missing from a table, or routed another way there (and why: NIC missing, down, without address)',
    run: (input) => (input.model ? checkStaticRoutes(input, input.model) : []),
  },
];
