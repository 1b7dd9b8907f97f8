/**
 * The checks: pure functions from the collected facts and the expected configuration to
 * results {id, subject, status, message, remedy}. Messages name the cause ("nothing listens:
 * no AnyIP route covers 192.168.0.3"), remedies say what to do. docs/verify.md lists every id.
 */
import { X509Certificate } from 'node:crypto';
import type { NetworkModel, NicNetwork, RuleSpec } from '../plan/network.js';
import { ROUTE_TABLE } from '../plan/network-scheme.js';
import { NETWORK_PATHS as PATHS } from '../appliance/paths.js';
import { expectedModel, nicsOf } from './expected.js';
import { formatEndpoint, isWildcard, listensOn, owners } from './parse/listeners.js';
import { chainsTo } from './parse/certs.js';
import { haproxyCheckSummary } from './parse/haproxy.js';
import { describeLookup, inCidr, lookupRoute, prefixLength } from './routing.js';
import { APPLIANCE_PATHS } from './script.js';
import type { ApiProbe, CertInfo, CheckResult, Expected, Facts, HaproxyBind, Listener, Route, Rule, Status } from './types.js';

/** Warn when a certificate expires within this many days. */
export const CERT_WARN_DAYS = 30;
/** Warn when the appliance's clock is off by more than this many seconds. */
export const CLOCK_SKEW_WARN_S = 120;

export interface CheckInput {
  facts: Facts;
  expected?: Expected;
  /** Why there is no expected configuration (state.json missing and no --expect). */
  expectedProblem?: string;
  /** state.json vs --expect, when both were available. */
  stateDifferences?: string[];
  /** The Data Plane API probe; undefined when it could not be attempted. */
  api?: ApiProbe;
  /** Whether API credentials were given (the user's name, never the password). */
  apiUser?: string;
  now: Date;
}

const DAY = 86_400_000;

function r(id: string, status: Status, message: string, remedy?: string, subject?: string): CheckResult {
  return { id, ...(subject !== undefined && { subject }), status, message, ...(remedy !== undefined && status !== 'pass' && status !== 'skip' && { remedy }) };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------
// Helpers over the facts
// ---------------------------------------------------------------------------------------------

function managementAddress(input: CheckInput): string | undefined {
  const nic = input.expected?.config.network.management;
  if (nic?.address) return nic.address.address;
  const live = input.facts.interfaces?.find((i) => i.name === 'management')?.ipv4[0];
  return live?.split('/')[0];
}

function serviceRanges(input: CheckInput): string[] {
  return input.expected?.config.loadbalance.serviceIpRanges ?? [];
}

function localRoutes(facts: Facts): Route[] {
  return (facts.routes ?? []).filter((r) => r.table === 'local' && r.type === 'local');
}

/** Whether the kernel treats `address` as local: an AnyIP (local) route or an interface address. */
function isLocal(facts: Facts, address: string): boolean {
  if (localRoutes(facts).some((r) => inCidr(address, r.dst))) return true;
  return (facts.interfaces ?? []).some((i) => i.ipv4.some((a) => a.split('/')[0] === address));
}

function processArgs(facts: Facts, comm: string): string[] {
  return (facts.processes ?? []).filter((p) => p.comm === comm).map((p) => p.args);
}

function flag(args: string, name: string): string | undefined {
  return new RegExp(`--${name}[= ](\\S+)`, 'u').exec(args)?.[1];
}

/** The comm (kernel process name) of every PID the collection saw, for tools that print another name. */
let commByPid = new Map<number, string>();

/**
 * Whether a process called `name` owns the listener. netstat names a process by its argv[0]
 * (a script run by an interpreter shows as the interpreter), so the PID's comm counts too.
 */
function ownedBy(l: Listener, name: string): boolean {
  return l.processes.some((p) => p.name === name || p.name.startsWith(`${name}:`) || (p.pid !== undefined && commByPid.get(p.pid) === name));
}

function serviceActive(facts: Facts, name: string): boolean | undefined {
  return facts.services?.find((s) => s.name === name)?.active;
}

function listenerUnknown(id: string, facts: Facts, subject?: string): CheckResult {
  return r(id, 'warn', `cannot tell what listens: ${facts.listenerProblem ?? 'no listener list was collected'}`, 'install iproute2 (ss) or net-tools (netstat) on the appliance', subject);
}

function noProcessNames(facts: Facts): boolean {
  return facts.uid !== undefined && facts.uid !== 0;
}

// ---------------------------------------------------------------------------------------------
// Expected configuration
// ---------------------------------------------------------------------------------------------

function checkState(input: CheckInput): CheckResult[] {
  const e = input.expected;
  if (!e) {
    return [r('state', 'fail', `no expected configuration: ${input.expectedProblem ?? `${APPLIANCE_PATHS.state} is missing`}`,
      `run haproxy-appliance provision on the appliance (it writes ${APPLIANCE_PATHS.state}), or give --expect OVF_ENV_FILE`)];
  }
  const src = e.source.kind === 'state'
    ? `${e.source.path} (agent ${e.source.version}, applied ${e.source.appliedAt})`
    : `--expect ${e.source.file}`;
  const diffs = input.stateDifferences ?? [];
  if (diffs.length) {
    return [r('state', 'warn', `expected configuration from ${src}; the appliance's state.json differs: ${diffs.slice(0, 5).join('; ')}${diffs.length > 5 ? `; and ${diffs.length - 5} more` : ''}`,
      'the appliance was last provisioned with other properties: update the vApp properties and rerun haproxy-appliance provision, or check against the right OVF environment')];
  }
  return [r('state', 'pass', `expected configuration from ${src} (${e.config.deployment} deployment)`)];
}

// ---------------------------------------------------------------------------------------------
// Management: Data Plane API, sshd
// ---------------------------------------------------------------------------------------------

function checkDataplaneListen(input: CheckInput): CheckResult {
  const id = 'dataplane.listen';
  const { facts } = input;
  const ip = managementAddress(input);
  const port = input.expected?.config.loadbalance.dataplanePort;
  if (!ip || port === undefined) return r(id, 'skip', 'not checked: the management address or the Data Plane API port is unknown');
  const want = formatEndpoint(ip, port);
  if (!facts.listeners) return listenerUnknown(id, facts);
  const args = processArgs(facts, 'dataplaneapi')[0];
  const cmdline = args ? [flag(args, 'tls-host') && `--tls-host=${flag(args, 'tls-host')}`, flag(args, 'tls-port') && `--tls-port=${flag(args, 'tls-port')}`, flag(args, 'scheme') && `--scheme=${flag(args, 'scheme')}`].filter(Boolean).join(' ') : '';
  const holder = facts.listeners.find((l) => l.port === port && listensOn(l, ip));
  if (holder) {
    if (ownedBy(holder, 'dataplaneapi')) {
      const where = isWildcard(holder) ? `all addresses (${formatEndpoint(holder.address, port)}), the management address ${ip} included` : want;
      return r(id, 'pass', `dataplaneapi listens on ${where}`);
    }
    if (holder.processes.length === 0 && noProcessNames(facts)) return r(id, 'warn', `something listens on ${want} but the process is unknown (not collected as root)`, 'verify as root (--user root) to see process names');
    return r(id, 'fail', `${want} (loadbalance.dataplane_port) is held by ${owners(holder)}, not dataplaneapi`,
      `stop what holds port ${port}, then systemctl restart dataplaneapi`);
  }
  const elsewhere = facts.listeners.filter((l) => ownedBy(l, 'dataplaneapi'));
  const running = serviceActive(facts, 'dataplaneapi');
  if (elsewhere.length) {
    const at = elsewhere.map((l) => formatEndpoint(l.address, l.port)).join(', ');
    return r(id, 'fail', `dataplaneapi listens on ${at}, not on ${want} (loadbalance.dataplane_port ${port})${cmdline ? `; it runs with ${cmdline}` : ''}`,
      `rerun haproxy-appliance provision so the service uses --tls-host=${ip} --tls-port=${port}, then systemctl restart dataplaneapi`);
  }
  if (running === false || (running === undefined && !args)) {
    return r(id, 'fail', `nothing listens on ${want}: dataplaneapi is not running`,
      'systemctl status dataplaneapi; journalctl -u dataplaneapi -e (it refuses to start without the userlist controller in haproxy.cfg, or without its TLS certificate and key)');
  }
  return r(id, 'fail', `nothing listens on ${want}: dataplaneapi runs but listens on no TCP port${cmdline ? ` (it runs with ${cmdline})` : ''}`,
    'journalctl -u dataplaneapi -e; check its --tls-host, --tls-port and --tls-certificate');
}

function checkDataplaneTls(input: CheckInput, listen: CheckResult): CheckResult {
  const id = 'dataplane.tls';
  const api = input.api;
  if (!api) return r(id, 'skip', 'not checked: the management address or the Data Plane API port is unknown');
  const at = formatEndpoint(api.address, api.port);
  if (api.error) {
    if (listen.status === 'fail') return r(id, 'skip', `not checked: no TLS connection to ${at} (${api.error}); see dataplane.listen`);
    return r(id, 'fail', `no TLS connection to ${at}: ${api.error}`, 'check that the Data Plane API runs with --scheme=https and its --tls-certificate/--tls-key');
  }
  const peer = api.peer;
  if (!peer) return r(id, 'fail', `${at} sent no certificate`, 'restart dataplaneapi with --scheme=https');
  const caState = input.expected?.config.appliance.caCert;
  const caDisk = input.facts.certs.find((c) => c.source === APPLIANCE_PATHS.caCert);
  const caPem = caState ?? caDisk?.pem;
  const caName = caState ? 'the CA of appliance.ca_cert' : `the appliance CA (${APPLIANCE_PATHS.caCert})`;
  if (!caPem) return r(id, 'fail', `cannot verify the certificate of ${at}: ${APPLIANCE_PATHS.caCert} is missing or unreadable`, 'rerun haproxy-appliance provision to (re)create the CA and the server certificate');
  const via = api.via === 'ssh' ? ' (reached through the SSH connection: the workstation cannot reach it directly)' : '';
  const problems: string[] = [];
  let status: Status = 'pass';
  let remedy: string | undefined;
  if (!chainsTo(peer.pem, caPem)) {
    status = 'fail';
    problems.push(`its certificate (subject ${peer.subject}, issuer ${peer.issuer}) does not chain to ${caName}`);
    remedy = 'rerun haproxy-appliance provision to reissue /etc/haproxy/server.crt from the CA, then systemctl restart dataplaneapi';
  }
  const now = input.now.getTime();
  if (new Date(peer.validTo).getTime() < now) {
    status = 'fail';
    problems.push(`its certificate expired on ${peer.validTo}`);
    remedy ??= 'rerun haproxy-appliance provision (it renews the server certificate), then systemctl restart dataplaneapi';
  } else if (new Date(peer.validFrom).getTime() > now) {
    status = 'fail';
    problems.push(`its certificate is not valid before ${peer.validFrom} (check the clocks)`);
  }
  try {
    if (new X509Certificate(peer.pem).checkIP(api.address) === undefined) {
      status = 'fail';
      problems.push(`its certificate does not name ${api.address} (SANs: ${peer.sans.join(', ') || 'none'}), so clients connecting to the management address refuse it`);
      remedy ??= 'rerun haproxy-appliance provision to reissue the server certificate with the management address, then systemctl restart dataplaneapi';
    }
  } catch {
    /* unreadable certificate: chainsTo failed already */
  }
  const onDisk = input.facts.certs.find((c) => c.source === APPLIANCE_PATHS.serverCert || (c.source !== APPLIANCE_PATHS.caCert && !c.ca));
  if (status === 'pass' && onDisk && onDisk.fingerprint256 !== peer.fingerprint256) {
    return r(id, 'warn', `${at} answers TLS with a certificate that chains to ${caName}, but not the one in ${onDisk.source}${via}`,
      'the certificate was renewed but dataplaneapi still serves the old one: systemctl restart dataplaneapi');
  }
  if (status === 'pass') return r(id, 'pass', `${at} answers TLS with a certificate for ${api.address} that chains to ${caName}, valid until ${peer.validTo.slice(0, 10)}${via}`);
  return r(id, status, `${at} answers TLS, but ${problems.join('; ')}${via}`, remedy);
}

function checkDataplaneApi(input: CheckInput, tls: CheckResult): CheckResult {
  const id = 'dataplane.api';
  if (!input.apiUser) {
    return r(id, 'skip', 'not checked: no API credentials (give --api-user and --api-password-env, or --expect with loadbalance.haproxy_user and haproxy_pwd)');
  }
  const info = input.api?.info;
  if (tls.status === 'fail' || tls.status === 'skip' || !info) {
    return r(id, 'skip', `not checked: the credentials are only sent to a server whose certificate verified (see dataplane.tls)`);
  }
  if (info.error) return r(id, 'fail', `GET ${info.path} failed: ${info.error}`, 'journalctl -u dataplaneapi -e');
  if (info.status === 200) return r(id, 'pass', `GET ${info.path} as ${input.apiUser}: Data Plane API ${info.version ?? '(version not reported)'}`);
  if (info.status === 401) {
    return r(id, 'fail', `GET ${info.path}: the Data Plane API refused the credentials of ${input.apiUser} (HTTP 401)`,
      'the user and password must match loadbalance.haproxy_user/haproxy_pwd, which the agent writes to the userlist controller of haproxy.cfg; rerun haproxy-appliance provision after changing them, then systemctl restart dataplaneapi');
  }
  return r(id, 'fail', `GET ${info.path}: HTTP ${info.status}`, 'journalctl -u dataplaneapi -e');
}

function checkSshListen(input: CheckInput, sshPort: number): CheckResult {
  const id = 'ssh.listen';
  const { facts } = input;
  const ip = managementAddress(input);
  if (!ip) return r(id, 'skip', 'not checked: the management address is unknown');
  if (!facts.listeners) return listenerUnknown(id, facts);
  const want = formatEndpoint(ip, sshPort);
  const l = facts.listeners.find((x) => x.port === sshPort && listensOn(x, ip) && (ownedBy(x, 'sshd') || x.processes.length === 0));
  if (l) {
    const where = isWildcard(l) ? `all addresses (${formatEndpoint(l.address, l.port)}), the management address included; see vip.exposed` : want;
    return r(id, 'pass', `sshd listens on ${where}`);
  }
  const other = facts.listeners.filter((x) => ownedBy(x, 'sshd')).map((x) => formatEndpoint(x.address, x.port));
  return r(id, 'fail', `sshd does not listen on ${want}${other.length ? `; it listens on ${other.join(', ')}` : ''}`,
    `set ListenAddress ${ip} in /etc/ssh/sshd_config and systemctl restart sshd`);
}

// ---------------------------------------------------------------------------------------------
// Network: addresses, routes, rules
// ---------------------------------------------------------------------------------------------

function ipUnknown(id: string, facts: Facts, subject?: string): CheckResult {
  return r(id, 'warn', `cannot tell: ${facts.ipProblem ?? 'ip output was not collected'}`, 'install iproute2 on the appliance', subject);
}

function checkAddresses(input: CheckInput): CheckResult[] {
  const id = 'network.address';
  const cfg = input.expected?.config;
  if (!cfg) return [];
  if (!input.facts.interfaces) return [ipUnknown(id, input.facts)];
  return nicsOf(cfg).map((nic) => {
    const live = input.facts.interfaces!.find((i) => i.name === nic.role);
    if (!live) {
      const names = input.facts.interfaces!.map((i) => i.name).join(', ');
      return r(id, 'fail', `there is no interface named ${nic.role} (interfaces: ${names})`,
        'the NICs were not renamed: rerun haproxy-appliance provision (it writes /etc/systemd/network/10-<role>.link) and reboot, or check the NIC MACs (--nics)', nic.role);
    }
    if (!live.up) return r(id, 'fail', `${nic.role} is down`, `ip link set ${nic.role} up; networkctl status ${nic.role}`, nic.role);
    if (!nic.address) {
      if (live.ipv4.length === 0) return r(id, 'fail', `${nic.role} has no IPv4 address (DHCP)`, `the DHCP server of the ${nic.role} network did not answer: networkctl status ${nic.role}`, nic.role);
      return r(id, 'pass', `${nic.role} has ${live.ipv4.join(', ')} (DHCP)`, undefined, nic.role);
    }
    if (live.ipv4.includes(nic.address.cidr)) {
      const extra = live.ipv4.filter((a) => a !== nic.address!.cidr);
      return r(id, extra.length ? 'warn' : 'pass', `${nic.role} has ${nic.address.cidr}${extra.length ? `, and also ${extra.join(', ')}` : ''}`,
        extra.length ? `remove addresses the properties do not give: ip addr del ADDRESS dev ${nic.role}` : undefined, nic.role);
    }
    return r(id, 'fail', `${nic.role} has ${live.ipv4.join(', ') || 'no IPv4 address'}, not ${nic.address.cidr} (network.${nic.role}_ip)`,
      'rerun haproxy-appliance provision, then networkctl reload', nic.role);
  });
}

function routeText(rt: Route): string {
  const parts = [rt.type !== 'unicast' ? rt.type : '', rt.dst, rt.gateway ? `via ${rt.gateway}` : '', rt.dev ? `dev ${rt.dev}` : '', rt.table !== 'main' ? `table ${rt.table}` : ''];
  return parts.filter(Boolean).join(' ');
}

function checkDefaultRoute(input: CheckInput): CheckResult {
  const id = 'route.default';
  const cfg = input.expected?.config;
  if (!cfg) return r(id, 'skip', 'not checked: no expected configuration');
  const facts = input.facts;
  if (!facts.routes) return ipUnknown(id, facts);
  const gw = cfg.network.management.gateway;
  const defaults = facts.routes.filter((x) => x.table === 'main' && x.dst === 'default' && x.type === 'unicast');
  if (!gw) {
    if (defaults.length === 0) return r(id, 'pass', 'no default route, as configured (network.management_gateway is not set)');
    return r(id, 'warn', `network.management_gateway is not set, but the main table has ${defaults.map(routeText).join(', ')}`, 'set network.management_gateway, or remove the route');
  }
  const want = `default via ${gw} dev management`;
  const good = defaults.filter((x) => x.gateway === gw && x.dev === 'management');
  const others = defaults.filter((x) => !good.includes(x));
  if (good.length && !others.length) return r(id, 'pass', want);
  if (good.length) {
    return r(id, 'fail', `${want} is there, but so is ${others.map(routeText).join(', ')}: traffic may leave by the wrong NIC`,
      'only the management NIC may put a default route in the main table: rerun haproxy-appliance provision, then networkctl reload');
  }
  const mgmt = facts.interfaces?.find((i) => i.name === 'management');
  const cause = !mgmt ? 'there is no interface named management' : !mgmt.up ? 'the management interface is down' : others.length ? `the main table has ${others.map(routeText).join(', ')} instead` : 'the main table has no default route';
  return r(id, 'fail', `no ${want}: ${cause}`, `rerun haproxy-appliance provision, then networkctl reload (or now: ip route replace default via ${gw} dev management)`);
}

function checkLinkRoutes(input: CheckInput): CheckResult[] {
  const id = 'route.link';
  const cfg = input.expected?.config;
  if (!cfg) return [];
  const facts = input.facts;
  if (!facts.routes) return [ipUnknown(id, facts)];
  return nicsOf(cfg).filter((n) => n.address).map((nic) => {
    const a = nic.address!;
    const found = facts.routes!.find((x) => x.table === 'main' && x.dst === a.network && x.dev === nic.role && !x.gateway);
    if (found) return r(id, 'pass', `${a.network} dev ${nic.role}${found.prefsrc ? ` src ${found.prefsrc}` : ''}`, undefined, nic.role);
    const wrong = facts.routes!.find((x) => x.table === 'main' && x.dst === a.network);
    return r(id, 'fail', wrong ? `${a.network} is routed as ${routeText(wrong)}, not dev ${nic.role}` : `no link route ${a.network} dev ${nic.role} in the main table${facts.interfaces?.find((i) => i.name === nic.role)?.ipv4.includes(a.cidr) ? '' : ` (${nic.role} does not have ${a.cidr})`}`,
      'networkctl reload (the kernel adds the link route with the address)', nic.role);
  });
}

function policyNics(model: NetworkModel): (NicNetwork & { table: number })[] {
  return model.nics.filter((n): n is NicNetwork & { table: number } => n.table !== undefined);
}

function checkPolicyTables(input: CheckInput, model: NetworkModel): CheckResult[] {
  const id = 'route.table';
  const facts = input.facts;
  const nics = policyNics(model);
  if (!facts.routes) return nics.length ? [ipUnknown(id, facts)] : [];
  return nics.map((nic) => {
    const table = String(nic.table);
    const live = facts.routes!.filter((x) => x.table === table);
    const missing: string[] = [];
    const found: string[] = [];
    for (const want of nic.routes.filter((x) => x.table === nic.table)) {
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
    const parts = [missing.length ? `missing: ${missing.join('; ')}` : '', extraDefaults.length ? `unexpected: ${extraDefaults.map(routeText).join('; ')}` : ''].filter(Boolean);
    const cause = live.length === 0 ? ` (table ${table} is empty${facts.interfaces?.find((i) => i.name === nic.role)?.up === false ? `: ${nic.role} is down` : ''})` : '';
    return r(id, 'fail', `${parts.join('; ')}${cause}`, `rerun haproxy-appliance provision, then networkctl reload (${PATHS.network(nic.role)} holds these routes)`, subject);
  });
}

function ruleText(x: { priority: number; from?: string; to?: string; table?: string | number; suppressPrefixLength?: number; action?: string }): string {
  const from = x.from && x.from !== 'all' ? x.from : 'all';
  const to = x.to && x.to !== 'all' ? ` to ${x.to}` : '';
  const act = x.table !== undefined ? `lookup ${x.table}` : x.action ?? '';
  const sup = x.suppressPrefixLength !== undefined ? ` suppress_prefixlength ${x.suppressPrefixLength}` : '';
  return `${x.priority}: from ${from}${to} ${act}${sup}`;
}

function ruleMatches(live: Rule, want: RuleSpec): boolean {
  return live.priority === want.priority && live.table === String(want.table) && live.from === (want.from ?? 'all') && live.to === (want.to ?? 'all')
    && (live.suppressPrefixLength ?? undefined) === want.suppressPrefixLength && !live.not;
}

function checkRules(input: CheckInput, model: NetworkModel): CheckResult[] {
  const id = 'rule';
  const facts = input.facts;
  const nics = policyNics(model);
  if (!facts.rules) return nics.length ? [ipUnknown(id, facts)] : [];
  return nics.map((nic) => {
    const table = String(nic.table);
    const subject = `${nic.role} (table ${table})`;
    const problems: string[] = [];
    for (const want of nic.rules) {
      const hits = facts.rules!.filter((x) => ruleMatches(x, want));
      const wantText = ruleText({ ...want, table });
      if (hits.length === 0) {
        const atPrio = facts.rules!.filter((x) => x.priority === want.priority);
        problems.push(atPrio.length ? `rule ${want.priority} is \`${atPrio.map(ruleText).join('`, `')}\`, not \`${wantText}\`` : `rule \`${wantText}\` is missing`);
      } else if (hits.length > 1) problems.push(`rule \`${wantText}\` is there ${hits.length} times`);
    }
    const stray = facts.rules!.filter((x) => x.table === table && !nic.rules.some((w) => ruleMatches(x, w)));
    if (stray.length) problems.push(`unexpected: \`${stray.map(ruleText).join('`, `')}\``);
    if (problems.length === 0) {
      return r(id, 'pass', `${plural(nic.rules.length, 'rule')} into table ${table}, each once: ${nic.rules.map((w) => ruleText({ ...w, table })).join('; ')}`, undefined, subject);
    }
    return r(id, 'fail', problems.join('; '), `rerun haproxy-appliance provision, then networkctl reload (${PATHS.network(nic.role)} holds the [RoutingPolicyRule] sections); a duplicate goes with ip rule del priority N`, subject);
  });
}

function checkAdditionalNetworks(input: CheckInput): CheckResult[] {
  const id = 'route.additional';
  const cfg = input.expected?.config;
  if (!cfg || cfg.network.additionalWorkloadNetworks.length === 0) return [];
  const facts = input.facts;
  if (!facts.routes || !facts.rules) return [ipUnknown(id, facts)];
  const gw = cfg.network.workload.gateway;
  return cfg.network.additionalWorkloadNetworks.map((net) => {
    const probe = firstHost(net);
    const l = lookupRoute(facts.routes!, facts.rules!, probe);
    const ok = l.verdict === 'route' && l.route?.dev === 'workload' && (!gw || l.route.gateway === gw);
    if (ok) return r(id, 'pass', `${net} is routed ${describeLookup(l)}`, undefined, net);
    return r(id, 'fail', `${net} is routed ${describeLookup(l)}, not via ${gw ?? 'the workload gateway'} dev workload`,
      `rule ${'to ' + net} lookup ${ROUTE_TABLE.workload} and table ${ROUTE_TABLE.workload}'s default route are needed: rerun haproxy-appliance provision, then networkctl reload`, net);
  });
}

function firstHost(cidr: string): string {
  const [addr, len] = cidr.split('/');
  const parts = addr!.split('.').map(Number);
  if (Number(len) >= 31) return addr!;
  parts[3] = (parts[3]! | 0) + 1;
  return parts.join('.');
}

// ---------------------------------------------------------------------------------------------
// VIPs: AnyIP, return path, binds, exposure
// ---------------------------------------------------------------------------------------------

function checkAnyIp(input: CheckInput): CheckResult[] {
  const id = 'anyip';
  const facts = input.facts;
  const ranges = serviceRanges(input);
  if (!ranges.length) return [];
  if (!facts.routes) return [ipUnknown(id, facts)];
  return ranges.map((range) => {
    const exact = localRoutes(facts).find((x) => x.dst === range && (x.dev === 'lo' || !x.dev));
    if (exact) return r(id, 'pass', `local ${range} dev lo table local: the appliance answers for every address in ${range}`, undefined, range);
    const partial = localRoutes(facts).filter((x) => inCidr(x.dst.split('/')[0]!, range) && prefixLength(x.dst) > prefixLength(range));
    return r(id, 'fail', `no AnyIP route for ${range} (local ${range} dev lo table local)${partial.length ? `; only ${partial.map(routeText).join(', ')}` : ''}: the appliance does not answer for these VIPs (haproxy's open sockets receive nothing, and it cannot bind new ones)`,
      `networkctl reload (${PATHS.anyip} holds the route); or now: ip route add local ${range} dev lo table local`, range);
  });
}

/** An address outside every network the appliance knows, to ask where replies to a remote client go. */
function remoteClient(input: CheckInput): string {
  const cfg = input.expected!.config;
  const known = [...nicsOf(cfg).flatMap((n) => (n.address ? [n.address.network] : [])), ...cfg.loadbalance.serviceIpRanges, ...cfg.network.additionalWorkloadNetworks];
  const candidates = ['198.51.100.10', '203.0.113.10', '192.0.2.10', '100.64.0.10', '8.8.8.8'];
  return candidates.find((c) => !known.some((k) => inCidr(c, k))) ?? candidates[0]!;
}

function checkReturnPath(input: CheckInput, model: NetworkModel): CheckResult[] {
  const id = 'vip.return-path';
  const facts = input.facts;
  const cfg = input.expected?.config;
  if (!cfg || !model.vips.length) return [];
  if (!facts.routes || !facts.rules) return [ipUnknown(id, facts)];
  const client = remoteClient(input);
  return model.vips.map((vip) => {
    const src = firstHost(vip.range);
    const nic = nicsOf(cfg).find((n) => n.role === vip.role);
    const l = lookupRoute(facts.routes!, facts.rules!, client, src);
    const ok = l.verdict === 'route' && l.route?.dev === vip.role && (!nic?.gateway || l.route.gateway === nic.gateway);
    const want = `via ${nic?.gateway ?? `the ${vip.role} gateway`} dev ${vip.role}`;
    if (ok) return r(id, 'pass', `replies from ${vip.range} to remote clients leave ${describeLookup(l)}`, undefined, vip.range);
    return r(id, 'fail', `replies from ${src} (${vip.range}) to a remote client such as ${client} leave ${describeLookup(l)}, not ${want} (${vip.reason}): clients see answers from the wrong network, or none`,
      `the rule from ${vip.range} into table ${vip.table} or the table's default route is missing: rerun haproxy-appliance provision, then networkctl reload`, vip.range);
  });
}

function inRanges(address: string, ranges: string[]): boolean {
  return ranges.some((range) => inCidr(address, range));
}

function checkBinds(input: CheckInput): CheckResult[] {
  const id = 'vip.bind';
  const { facts } = input;
  const binds = facts.binds;
  if (!binds) {
    return [r(id, 'fail', `cannot read ${facts.haproxyCfgPath}: ${facts.sections['haproxy-cfg']?.stderr || 'not collected'}`, 'rerun haproxy-appliance provision (it writes haproxy.cfg)')];
  }
  const ranges = serviceRanges(input);
  const rangesText = ranges.join(', ') || 'none known';
  const own = new Set((facts.interfaces ?? []).flatMap((i) => i.ipv4.map((a) => a.split('/')[0]!)));
  const haproxyUp = serviceActive(facts, 'haproxy');
  const haproxyProcs = (facts.processes ?? []).filter((p) => p.comm === 'haproxy');
  const started = haproxyProcs.length && facts.remoteTime !== undefined ? Math.min(...haproxyProcs.map((p) => facts.remoteTime! - (p.elapsed ?? 0))) : undefined;
  const results: CheckResult[] = [];
  const tcp = binds.filter((b) => b.address !== undefined && b.port !== undefined);
  if (tcp.length === 0) return [r(id, 'pass', `${facts.haproxyCfgPath} has no TCP bind yet (no virtual server was added)`)];
  for (const b of tcp) {
    if ((b as HaproxyBind & { disabled?: boolean }).disabled) {
      results.push(r(id, 'pass', `${b.text} (${b.section}) is disabled`, undefined, b.text));
      continue;
    }
    const address = b.address!;
    const port = b.port!;
    const ep = formatEndpoint(address, port);
    const where = `${b.section}, haproxy.cfg line ${b.line}`;
    const v6 = address.includes(':');
    const wildcard = address === '0.0.0.0' || address === '::';
    const loopback = address.startsWith('127.') || address === '::1';
    let rangeProblem: { status: Status; text: string; remedy: string } | undefined;
    if (wildcard) {
      rangeProblem = { status: 'warn', text: `binds every address, the management address and every VIP included`, remedy: 'bind virtual servers to one VIP inside loadbalance.service_ip_range' };
    } else if (!loopback && !v6 && !inRanges(address, ranges)) {
      rangeProblem = own.has(address)
        ? { status: 'warn', text: `${address} is the appliance's own address, not a VIP (service ranges: ${rangesText})`, remedy: 'virtual servers belong on a VIP inside loadbalance.service_ip_range' }
        : { status: 'fail', text: `${address} is outside the service ranges (${rangesText})`, remedy: `move the virtual server to a VIP inside ${rangesText}, or add its network to loadbalance.service_ip_range and rerun haproxy-appliance provision` };
    }
    // Listening?
    let listenText: string;
    let listening: boolean | undefined;
    let listenRemedy: string | undefined;
    if (!facts.listeners) {
      listening = undefined;
      listenText = `cannot tell whether it listens (${facts.listenerProblem ?? 'no listener list'})`;
    } else {
      const portEnd = b.portEnd ?? port;
      const hits = facts.listeners.filter((l) => l.port >= port && l.port <= portEnd && (wildcard ? l.address === address || isWildcard(l) : listensOn(l, address)));
      const mine = hits.filter((l) => ownedBy(l, 'haproxy') || (l.processes.length === 0 && noProcessNames(facts)));
      if (mine.length) {
        listening = true;
        listenText = 'haproxy listens';
      } else {
        listening = false;
        const other = hits[0];
        let cause: string;
        if (haproxyUp === false) {
          cause = 'haproxy is not running';
          listenRemedy = 'systemctl start haproxy; if it fails: journalctl -u haproxy -e';
        } else if (other) {
          cause = `${formatEndpoint(other.address, other.port)} is held by ${owners(other)}`;
          listenRemedy = `stop ${owners(other)} or move it off port ${port}, then systemctl reload haproxy`;
        } else if (!wildcard && !v6 && !isLocal(facts, address)) {
          cause = `no AnyIP route covers ${address} (service ranges: ${rangesText})`;
          listenRemedy = inRanges(address, ranges)
            ? `the AnyIP route of its range is missing: networkctl reload (${PATHS.anyip}), then systemctl reload haproxy`
            : `use a VIP inside ${rangesText}; haproxy cannot bind an address the appliance does not own`;
        } else if (facts.haproxyCheck && 'ok' in facts.haproxyCheck && !facts.haproxyCheck.ok) {
          cause = 'haproxy.cfg does not pass haproxy -c, so haproxy kept its previous configuration';
          listenRemedy = 'fix haproxy.cfg (see haproxy.config), then systemctl reload haproxy';
        } else if (started !== undefined && facts.haproxyCfgMtime !== undefined && facts.haproxyCfgMtime > started) {
          cause = `haproxy.cfg changed after haproxy started (${new Date(facts.haproxyCfgMtime * 1000).toISOString()}), and haproxy has not loaded it`;
          listenRemedy = 'systemctl reload haproxy';
        } else {
          cause = 'haproxy runs but did not bind it';
          listenRemedy = 'journalctl -u haproxy -e; systemctl reload haproxy';
        }
        listenText = `nothing listens: ${cause}`;
      }
    }
    if (!rangeProblem && listening !== false) {
      const inside = loopback ? 'loopback only' : v6 ? 'IPv6' : `inside ${ranges.find((x) => inCidr(address, x)) ?? 'a service range'}`;
      results.push(r(id, listening === undefined ? 'warn' : 'pass', `${ep} (${where}): ${inside}; ${listenText}`,
        listening === undefined ? 'install iproute2 (ss) on the appliance' : undefined, ep));
      continue;
    }
    const status: Status = listening === false || rangeProblem?.status === 'fail' ? 'fail' : 'warn';
    const parts = [listening === false ? listenText : undefined, rangeProblem?.text, listening === true ? 'haproxy listens on it' : undefined];
    results.push(r(id, status, `VIP ${ep} is in haproxy.cfg but ${parts.filter(Boolean).join('; ')} (${where})`,
      rangeProblem?.status === 'fail' && haproxyUp !== false ? rangeProblem.remedy : [listenRemedy, rangeProblem?.remedy].filter(Boolean).join('; '), ep));
  }
  return results;
}

function checkExposure(input: CheckInput): CheckResult[] {
  const id = 'vip.exposed';
  const { facts } = input;
  const ranges = serviceRanges(input);
  if (!ranges.length) return [];
  if (!facts.listeners) return [listenerUnknown(id, facts)];
  const binds = (facts.binds ?? []).filter((b) => b.address !== undefined && !(b as { disabled?: boolean }).disabled);
  const declared = (l: Listener) => binds.some((b) => b.port !== undefined && l.port >= b.port && l.port <= (b.portEnd ?? b.port) && (b.address === l.address));
  const out: CheckResult[] = [];
  for (const l of facts.listeners) {
    const ep = formatEndpoint(l.address, l.port);
    if (l.device === 'lo') continue;
    if (!isWildcard(l) && l.family === 4 && inRanges(l.address, ranges)) {
      if (ownedBy(l, 'haproxy') && declared(l)) continue;
      const why = ownedBy(l, 'haproxy') ? 'haproxy listens there but no bind of haproxy.cfg says so (a stale listener of an old configuration)' : `${owners(l)} listens on a VIP`;
      out.push(r(id, 'fail', `${ep}: ${why}`, ownedBy(l, 'haproxy') ? 'systemctl reload haproxy' : `only haproxy may listen on VIPs: stop ${owners(l)} or bind it to the management address`, ep));
    } else if (isWildcard(l) && l.dualStack !== false) {
      if (ownedBy(l, 'haproxy') && declared(l)) continue; // reported by vip.bind
      out.push(r(id, 'warn', `${owners(l)} listens on every address (${ep}); with AnyIP that includes every VIP in ${ranges.join(', ')}`,
        ownedBy(l, 'sshd') ? `set ListenAddress ${managementAddress(input) ?? '<management ip>'} in /etc/ssh/sshd_config` : `bind ${owners(l)} to the management address`, ep));
    }
  }
  if (out.length === 0) return [r(id, 'pass', `nothing but haproxy's binds listens on ${ranges.join(', ')}`)];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Services, haproxy -c, certificates, hostname, DNS, clock
// ---------------------------------------------------------------------------------------------

function checkServices(input: CheckInput): CheckResult[] {
  const id = 'service';
  const { facts } = input;
  return (facts.services ?? []).map((s) => {
    const how = s.method === 'systemd' ? 'systemd' : 'process list: systemd is not PID 1 there, so by process presence';
    if (s.active) return r(id, 'pass', `${s.name} is ${s.state}${s.pids.length ? ` (pid ${s.pids.slice(0, 3).join(', ')}${s.pids.length > 3 ? ', …' : ''})` : ''} [${how}]`, undefined, s.name);
    const unit = s.name === 'sshd' ? 'sshd' : s.name;
    return r(id, 'fail', `${s.name} is ${s.state} [${how}]`, s.method === 'systemd' ? `systemctl start ${unit}; journalctl -u ${unit} -e` : `start ${s.name} (systemctl start ${unit} on the appliance)`, s.name);
  });
}

function checkHaproxyConfig(input: CheckInput): CheckResult {
  const id = 'haproxy.config';
  const c = input.facts.haproxyCheck;
  const ver = input.facts.haproxyVersion ? ` (haproxy ${input.facts.haproxyVersion})` : '';
  if (!c) return r(id, 'warn', 'haproxy -c was not run', 'verify again');
  if ('missing' in c) return r(id, 'fail', 'haproxy is not installed on the appliance', 'install the haproxy package');
  if (c.ok) {
    const warnings = c.output.split('\n').filter((l) => l.includes('[WARNING]')).length;
    return r(id, 'pass', `haproxy -c -f ${input.facts.haproxyCfgPath}: valid${ver}${warnings ? ` (${plural(warnings, 'warning')}, the first: ${haproxyCheckSummary(c.output, 1).replace(/^WARNING: /u, '')})` : ''}`);
  }
  if (c.rc === 124) return r(id, 'fail', `haproxy -c timed out${ver}`, 'check resolvers and external files referenced by haproxy.cfg');
  return r(id, 'fail', `haproxy -c -f ${input.facts.haproxyCfgPath} fails (exit ${c.rc})${ver}: ${haproxyCheckSummary(c.output)}`,
    'fix haproxy.cfg (a reload keeps the old configuration running until it passes), then systemctl reload haproxy');
}

function expiry(id: string, cert: CertInfo, now: Date, subject: string): CheckResult {
  const to = new Date(cert.validTo).getTime();
  const days = Math.floor((to - now.getTime()) / DAY);
  const renew = cert.ca ? 'replace the CA (appliance.ca_cert/ca_cert_key, or blank both to have a new one generated) and rerun haproxy-appliance provision' : 'rerun haproxy-appliance provision (it renews the server certificate), then systemctl restart dataplaneapi';
  if (to < now.getTime()) return r(id, 'fail', `${cert.source} (${cert.subject}) expired on ${cert.validTo}`, renew, subject);
  if (new Date(cert.validFrom).getTime() > now.getTime()) return r(id, 'fail', `${cert.source} is not valid before ${cert.validFrom}`, 'check the appliance clock and the certificate', subject);
  if (days < CERT_WARN_DAYS) return r(id, 'warn', `${cert.source} (${cert.subject}) expires in ${plural(days, 'day')}, on ${cert.validTo}`, renew, subject);
  return r(id, 'pass', `${cert.source} valid until ${cert.validTo.slice(0, 10)} (${days} days)`, undefined, subject);
}

function checkCertificates(input: CheckInput): CheckResult[] {
  const { facts } = input;
  const out: CheckResult[] = [];
  const wanted: string[] = [APPLIANCE_PATHS.caCert, APPLIANCE_PATHS.serverCert];
  for (const path of wanted) {
    const cert = facts.certs.find((c) => c.source === path);
    if (!cert) {
      out.push(r('cert.expiry', 'fail', `${path} is missing or holds no certificate`, 'rerun haproxy-appliance provision (it creates the CA and the server certificate)', path));
      continue;
    }
    out.push(expiry('cert.expiry', cert, input.now, path));
  }
  for (const cert of facts.certs.filter((c) => !wanted.includes(c.source))) out.push(expiry('cert.expiry', cert, input.now, cert.source));
  if (input.api?.peer && !facts.certs.some((c) => c.fingerprint256 === input.api!.peer!.fingerprint256)) {
    out.push(expiry('cert.expiry', input.api.peer, input.now, input.api.peer.source));
  }
  const server = facts.certs.find((c) => c.source === APPLIANCE_PATHS.serverCert);
  const cfg = input.expected?.config;
  if (server && cfg) {
    const ip = managementAddress(input);
    const wantIps = nicsOf(cfg).flatMap((n) => (n.address ? [n.address.address] : []));
    const wantDns = [cfg.network.hostname];
    const missing = [...wantIps.map((i) => `IP:${i}`), ...wantDns.map((d) => `DNS:${d}`)].filter((s) => !server.sans.includes(s));
    const missMgmt = ip !== undefined && !server.sans.includes(`IP:${ip}`);
    if (missing.length === 0) out.push(r('cert.sans', 'pass', `${server.source} names ${server.sans.join(', ')}`));
    else {
      out.push(r('cert.sans', missMgmt ? 'fail' : 'warn', `${server.source} does not name ${missing.join(', ')} (it names ${server.sans.join(', ') || 'nothing'})`,
        'rerun haproxy-appliance provision (it reissues the server certificate when the addresses change), then systemctl restart dataplaneapi'));
    }
    const ca = facts.certs.find((c) => c.source === APPLIANCE_PATHS.caCert);
    if (ca && !chainsTo(server.pem, ca.pem)) {
      out.push(r('cert.chain', 'fail', `${server.source} was not issued by ${ca.source} (${ca.subject})`, 'rerun haproxy-appliance provision to reissue the server certificate from the CA, then systemctl restart dataplaneapi'));
    } else if (ca) out.push(r('cert.chain', 'pass', `${server.source} was issued by ${ca.source} (${ca.subject})`));
  }
  return out;
}

function checkHostname(input: CheckInput, model: NetworkModel | undefined): CheckResult | undefined {
  const id = 'hostname';
  if (!model) return undefined;
  const want = model.hostname.static;
  const have = input.facts.hostname;
  if (!have) return r(id, 'warn', 'the hostname was not collected', 'verify again');
  if (have === want || have === model.hostname.fqdn) {
    if (input.facts.etcHostname !== undefined && input.facts.etcHostname !== want) {
      return r(id, 'warn', `the hostname is ${have}, but /etc/hostname says ${input.facts.etcHostname || '(empty)'}: a reboot changes it`, 'rerun haproxy-appliance provision');
    }
    return r(id, 'pass', `hostname ${have}`);
  }
  return r(id, 'fail', `the hostname is ${have}, not ${want} (network.hostname)`, `rerun haproxy-appliance provision, or hostnamectl set-hostname ${want}`);
}

function checkDns(input: CheckInput): CheckResult | undefined {
  const id = 'dns';
  const cfg = input.expected?.config;
  if (!cfg) return undefined;
  const want = cfg.network.nameservers;
  const f = input.facts;
  let have = f.resolvConf;
  let from = '/etc/resolv.conf';
  if (have && have.every((n) => n.startsWith('127.')) && f.resolvedUpstream) {
    have = f.resolvedUpstream;
    from = '/run/systemd/resolve/resolv.conf (systemd-resolved)';
  }
  if (!have) return r(id, 'warn', `cannot read /etc/resolv.conf: ${f.sections['resolv.conf']?.stderr || 'not collected'}`, 'check /etc/resolv.conf');
  if (want.length === 0) return r(id, 'pass', `nameservers ${have.join(', ') || 'none'} (from DHCP; network.nameservers is not set)`);
  if (have.length && have.every((n) => n.startsWith('127.')) && !f.resolvedUpstream) {
    return r(id, 'warn', `${from} points at a local resolver (${have.join(', ')}); its upstream servers were not readable`, 'resolvectl dns');
  }
  const missing = want.filter((n) => !have!.includes(n));
  const extra = have.filter((n) => !want.includes(n));
  if (missing.length) {
    return r(id, 'fail', `${from} lacks ${missing.join(', ')} (network.nameservers: ${want.join(', ')}; it has ${have.join(', ') || 'none'})`, 'rerun haproxy-appliance provision, then networkctl reload');
  }
  if (extra.length) return r(id, 'warn', `nameservers ${have.join(', ')} in ${from}: ${extra.join(', ')} not from network.nameservers`, 'remove the extra nameservers, or add them to network.nameservers');
  return r(id, 'pass', `nameservers ${have.join(', ')} (${from})`);
}

function checkClock(input: CheckInput): CheckResult | undefined {
  const t = input.facts.remoteTime;
  if (t === undefined) return undefined;
  const skew = Math.round(t - input.now.getTime() / 1000);
  if (Math.abs(skew) > CLOCK_SKEW_WARN_S) {
    return r('clock', 'warn', `the appliance's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} this workstation's`, 'check NTP on the appliance (timedatectl; network.ntp_servers) — certificates and logs depend on it');
  }
  return r('clock', 'pass', `the appliance's clock is within ${CLOCK_SKEW_WARN_S} s of this workstation's`);
}

// ---------------------------------------------------------------------------------------------

/** Runs every check. `sshPort` is the port the verifier logged in on. */
export function runChecks(input: CheckInput, sshPort = 22): CheckResult[] {
  commByPid = new Map((input.facts.processes ?? []).map((p) => [p.pid, p.comm]));
  const model = input.expected ? expectedModel(input.expected.config) : undefined;
  const out: CheckResult[] = [...checkState(input)];
  if (typeof model === 'string') out.push(r('state', 'fail', `the expected configuration has no network model: ${model}`, 'check the properties'));
  const m = typeof model === 'string' ? undefined : model;

  const listen = checkDataplaneListen(input);
  const tls = checkDataplaneTls(input, listen);
  out.push(listen, tls, checkDataplaneApi(input, tls), checkSshListen(input, sshPort));

  out.push(...checkAddresses(input), checkDefaultRoute(input), ...checkLinkRoutes(input));
  if (m) out.push(...checkPolicyTables(input, m), ...checkRules(input, m));
  out.push(...checkAdditionalNetworks(input));

  out.push(...checkAnyIp(input));
  if (m) out.push(...checkReturnPath(input, m));
  out.push(...checkBinds(input), ...checkExposure(input));

  out.push(...checkServices(input), checkHaproxyConfig(input), ...checkCertificates(input));
  for (const c of [checkHostname(input, m), checkDns(input), checkClock(input)]) if (c) out.push(c);
  return out;
}

/** Every check id, in report order (docs/verify.md describes each). */
export const CHECK_IDS = [
  'state', 'dataplane.listen', 'dataplane.tls', 'dataplane.api', 'ssh.listen',
  'network.address', 'route.default', 'route.link', 'route.table', 'rule', 'route.additional',
  'anyip', 'vip.return-path', 'vip.bind', 'vip.exposed',
  'service', 'haproxy.config', 'cert.expiry', 'cert.sans', 'cert.chain', 'hostname', 'dns', 'clock',
] as const;

