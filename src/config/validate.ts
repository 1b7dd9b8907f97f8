/**
 * From raw OVF property strings to one validated ApplianceConfig, reporting every problem at
 * once, each naming its property. Pure: no I/O (the clock is a parameter).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { InputError, nonEmpty } from '../errors.js';
import type { ApplianceConfig, Deployment, NicConfig, NicRole, OvfEnvironment, StaticAddress } from './types.js';
import { problem as makeProblem, warning, type Problem, type ProblemCode } from '../problems.js';
import { PROPERTIES, PROPERTY_BY_KEY, issueCode, type StaticRouteEntry } from './properties.js';
import { contains, overlaps, overlapsSorted, rangeOf, type Cidr } from './ipv4.js';
import { MAX_UNKNOWN_NAMED, capProblems, clip, quote } from './limits.js';

export interface ValidateOptions {
  /** The NIC count the OVF environment lists (its EthernetAdapterSection), when it lists any. */
  adapterCount?: number;
  /** An explicit deployment configuration; wins over everything else. */
  deployment?: Deployment;
  /** "Now" for certificate expiry; defaults to the current time. */
  now?: Date;
}

export interface ValidationResult {
  /** Set exactly when `problems` is empty. */
  config?: ApplianceConfig;
  /** Errors (severity `error`), each naming its property. */
  problems: Problem[];
  /** Severity `warning`: the configuration is valid, but the admin should know. */
  warnings: Problem[];
}

const FRONTEND_KEYS = PROPERTIES.filter((p) => p.configurations && !p.configurations.includes('default')).map((p) => p.key);

/** Which deployment configuration the environment describes, and why. */
export function detectDeployment(raw: Record<string, string>, options: ValidateOptions): Deployment | Problem {
  const n = options.adapterCount;
  if (options.deployment) {
    const nics = options.deployment === 'frontend' ? 3 : 2;
    if (n !== undefined && n > 0 && n !== nics) {
      return makeProblem(
        'EthernetAdapterSection',
        'adapter-count',
        `the OVF environment lists ${n} network adapter${n === 1 ? '' : 's'}, but the ${options.deployment} deployment has ${nics} NICs (${options.deployment === 'frontend' ? 'management, workload, frontend' : 'management, workload'}); deploy the OVA with the matching deployment configuration`,
      );
    }
    return options.deployment;
  }
  if (n !== undefined && n > 0) {
    if (n === 2) return 'default';
    if (n === 3) return 'frontend';
    return makeProblem(
      'EthernetAdapterSection',
      'adapter-count',
      `the OVF environment lists ${n} network adapters; the appliance takes 2 (default) or 3 (frontend)`,
    );
  }
  const isSet = (k: string) => {
    const v = raw[k]?.trim();
    return v !== undefined && v !== '' && v !== 'null';
  };
  return FRONTEND_KEYS.some(isSet) ? 'frontend' : 'default';
}

export function validateProperties(raw: Record<string, string>, options: ValidateOptions = {}): ValidationResult {
  const result = validateAll(raw, options);
  return { ...result, problems: capProblems(result.problems) };
}

function validateAll(raw: Record<string, string>, options: ValidateOptions): ValidationResult {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const problem = (at: string, code: ProblemCode, message: string) => problems.push(makeProblem(at, code, message));

  // Unknown keys: one warning each for a few, one warning for many (no flood of lines).
  const unknown = Object.keys(raw).filter((key) => !PROPERTY_BY_KEY.has(key));
  if (unknown.length <= MAX_UNKNOWN_NAMED) for (const key of unknown) warnings.push(warning(clip(key), 'unknown-property', 'unknown property, ignored'));
  else
    warnings.push(
      warning(
        'PropertySection',
        'unknown-properties',
        `${unknown.length} unknown properties ignored: ${unknown
          .slice(0, MAX_UNKNOWN_NAMED)
          .map((k) => clip(k))
          .join(', ')}, …`,
      ),
    );

  const deployment = detectDeployment(raw, options);
  if (typeof deployment !== 'string') {
    problems.push(deployment);
    return { problems, warnings };
  }

  // Field level: each declaration's schema, every property, every problem.
  const v: Record<string, unknown> = {};
  const failed = new Set<string>();
  for (const decl of PROPERTIES) {
    let input = raw[decl.key];
    if (decl.configurations && !decl.configurations.includes(deployment)) {
      if (input !== undefined && input.trim() !== '' && input.trim() !== 'null') {
        warnings.push(
          warning(
            decl.key,
            'ignored-in-deployment',
            `ignored in the ${deployment} deployment (${deployment === 'default' ? '2 NICs, no frontend network' : 'not used'})`,
          ),
        );
      }
      input = undefined;
    }
    const result = decl.schema.safeParse(input);
    if (result.success) v[decl.key] = result.data;
    else {
      failed.add(decl.key);
      for (const issue of result.error.issues) problem(decl.key, issueCode(issue), issue.message);
    }
  }
  const ok = (...keys: string[]) => keys.every((k) => !failed.has(k));

  // Required values.
  if (ok('loadbalance.haproxy_user') && v['loadbalance.haproxy_user'] === undefined)
    problem('loadbalance.haproxy_user', 'required', 'is required: the Data Plane API refuses to start without a user');
  if (ok('loadbalance.haproxy_pwd') && v['loadbalance.haproxy_pwd'] === undefined)
    problem('loadbalance.haproxy_pwd', 'required', 'is required: the Data Plane API user needs a password (6 to 128 characters)');
  if (ok('loadbalance.service_ip_range') && (v['loadbalance.service_ip_range'] as Cidr[]).length === 0) {
    problem('loadbalance.service_ip_range', 'required', 'is required: give at least one network of virtual IPs, like 192.168.0.0/24');
  }
  // Keys only, but no key: root could never log in again (over SSH).
  if (
    ok('appliance.permit_root_login', 'appliance.ssh_authorized_keys') &&
    v['appliance.permit_root_login'] === 'prohibit-password' &&
    (v['appliance.ssh_authorized_keys'] as string[]).length === 0
  )
    problem(
      'appliance.permit_root_login',
      'root-login-needs-key',
      'is prohibit-password (root logs in with a key only) but appliance.ssh_authorized_keys is empty, so root could not log in over SSH; give at least one public key there, or set True',
    );
  if (ok('appliance.root_pwd') && v['appliance.root_pwd'] === undefined)
    warnings.push(warning('appliance.root_pwd', 'root-password-unset', 'not set; the root password of the image is left as it is'));

  // NICs: gateway inside the subnet, not the NIC's own address; subnets apart.
  const roles: NicRole[] = deployment === 'frontend' ? ['management', 'workload', 'frontend'] : ['management', 'workload'];
  const nics = new Map<NicRole, { cidr?: Cidr; gateway?: string; ok: boolean }>();
  for (const role of roles) {
    const ipKey = `network.${role}_ip`;
    const gwKey = `network.${role}_gateway`;
    const cidr = v[ipKey] as Cidr | undefined;
    const gateway = v[gwKey] as string | undefined;
    nics.set(role, { cidr, gateway, ok: ok(ipKey) });
    if (!ok(ipKey, gwKey)) continue;
    if (cidr && gateway) {
      if (!contains(cidr, gateway)) problem(gwKey, 'gateway-outside-subnet', `${gateway} is outside ${cidr.network} (${role} network)`);
      else if (gateway === cidr.address)
        problem(gwKey, 'gateway-is-own-address', `${gateway} is the appliance's own ${role} address; the gateway must be another host`);
      else if (gateway === cidr.networkAddress || gateway === cidr.broadcastAddress)
        problem(
          gwKey,
          'gateway-not-host',
          `${gateway} is the ${gateway === cidr.networkAddress ? 'network' : 'broadcast'} address of ${cidr.network}, not a host`,
        );
    }
    if (role === 'management' && !cidr && ok(ipKey))
      warnings.push(warning(ipKey, 'dataplane-any-address', 'DHCP; the Data Plane API listens on every address'));
    if (cidr && !gateway) {
      warnings.push(
        warning(
          gwKey,
          'gateway-unset',
          role === 'management'
            ? `not set; the appliance gets no default route and reaches only ${cidr.network}`
            : `not set; replies to clients outside ${cidr.network} that arrive on the ${role} NIC have no way back`,
        ),
      );
    }
  }
  for (let i = 0; i < roles.length; i++) {
    for (let j = i + 1; j < roles.length; j++) {
      const a = nics.get(roles[i]!)!.cidr;
      const b = nics.get(roles[j]!)!.cidr;
      if (a && b && overlaps(a, b)) {
        problem(
          `network.${roles[j]}_ip`,
          'subnets-overlap',
          `${b.network} (${roles[j]} network) overlaps ${a.network} (${roles[i]} network); each NIC needs a network of its own`,
        );
      }
    }
  }

  // CA: both or neither, a CA, in date, and the key belongs to the certificate.
  const caCert = v['appliance.ca_cert'] as string | undefined;
  const caKey = v['appliance.ca_cert_key'] as string | undefined;
  if (ok('appliance.ca_cert', 'appliance.ca_cert_key')) {
    if (caCert && !caKey)
      problem('appliance.ca_cert_key', 'ca-pair-incomplete', 'is blank but appliance.ca_cert is set; give both the CA certificate and its key, or neither');
    if (caKey && !caCert)
      problem('appliance.ca_cert', 'ca-pair-incomplete', 'is blank but appliance.ca_cert_key is set; give both the CA certificate and its key, or neither');
  }
  if (caCert && ok('appliance.ca_cert')) {
    const cert = new X509Certificate(caCert);
    const now = options.now ?? new Date();
    if (!cert.ca)
      problem(
        'appliance.ca_cert',
        'ca-not-ca',
        `the certificate for ${quote(cert.subject.replace(/\n/gu, ', '), 200)} is not a CA (basicConstraints CA:TRUE is missing); it cannot sign the server certificate`,
      );
    if (new Date(cert.validTo) < now) problem('appliance.ca_cert', 'ca-expired', `the CA certificate expired on ${new Date(cert.validTo).toISOString()}`);
    else if (new Date(cert.validFrom) > now)
      problem(
        'appliance.ca_cert',
        'ca-not-yet-valid',
        `the CA certificate is not valid before ${new Date(cert.validFrom).toISOString()}; check the clock or the certificate`,
      );
    if (caKey && ok('appliance.ca_cert_key') && !cert.checkPrivateKey(createPrivateKey(caKey))) {
      problem('appliance.ca_cert_key', 'ca-key-mismatch', 'does not belong to appliance.ca_cert (the public keys differ)');
    }
  }

  // Service ranges: apart from each other and from every host the appliance knows of.
  const ranges = (v['loadbalance.service_ip_range'] as Cidr[] | undefined) ?? [];
  const nameservers = (v['network.nameservers'] as string[] | undefined) ?? [];
  const hosts: { address: string; what: string }[] = [];
  for (const [role, nic] of nics) {
    if (nic.cidr) hosts.push({ address: nic.cidr.address, what: `the appliance's ${role} address` });
    if (nic.gateway) hosts.push({ address: nic.gateway, what: `the ${role} gateway` });
  }
  for (const ns of nameservers) hosts.push({ address: ns, what: 'a nameserver' });
  // Each range against the few hosts (at most 9), then every overlap in one sorted sweep.
  const RANGE = 'loadbalance.service_ip_range';
  for (const range of ranges) {
    if (range.prefix < 8)
      problem(
        RANGE,
        'range-too-large',
        `${range.network} is far too large: the appliance would answer for ${range.prefix === 0 ? 'every address' : `2^${32 - range.prefix} addresses`}; use a range of the load balancer's VIPs`,
      );
    const kind = rangeOf(range.networkAddress);
    if (['loopback', 'multicast', 'linkLocal', 'unspecified', 'broadcast', 'reserved'].includes(kind)) {
      problem(RANGE, 'range-not-unicast', `${range.network} is a ${kind} range; virtual IPs must be ordinary unicast addresses`);
    }
    for (const h of hosts)
      if (contains(range, h.address))
        problem(RANGE, 'range-holds-host', `${range.network} contains ${h.address}, ${h.what}; the appliance would answer for it`);
  }
  overlapsSorted(
    ranges.map((cidr) => ({ cidr })),
    (inner, outer) => problem(RANGE, 'ranges-overlap', `${inner.cidr.network} overlaps ${outer.cidr.network}`),
  );

  // Additional workload networks: routed via workload, so never a NIC's own network (3 at most),
  // nor a load-balancer range (one sorted sweep over both lists).
  const extra = (v['network.additional_workload_networks'] as Cidr[] | undefined) ?? [];
  const EXTRA = 'network.additional_workload_networks';
  for (const net of extra) {
    for (const [role, nic] of nics) {
      if (nic.cidr && overlaps(net, nic.cidr)) {
        if (role === 'workload')
          problem(
            EXTRA,
            'network-includes-workload',
            `${net.network} includes the primary workload network ${nic.cidr.network}; list only the other workload networks`,
          );
        else problem(EXTRA, 'network-overlaps-nic', `${net.network} overlaps the ${role} network ${nic.cidr.network}`);
      }
    }
  }
  overlapsSorted(
    [...extra.map((cidr) => ({ cidr, extra: true })), ...ranges.map((cidr) => ({ cidr, extra: false }))],
    (inner, outer) => {
      const [net, range] = inner.extra ? [inner, outer] : [outer, inner];
      problem(EXTRA, 'network-overlaps-range', `${net.cidr.network} overlaps the load-balancer range ${range.cidr.network}`);
    },
    (inner, outer) => inner.extra !== outer.extra,
  );

  // Static routes: the gateway in a static NIC's subnet (that NIC carries the route), the
  // network apart from every NIC's network (a few), and from the load-balancer ranges, the
  // additional workload networks and the other routes (one sorted sweep over the three lists).
  const routes = (v['network.static_routes'] as StaticRouteEntry[] | undefined) ?? [];
  const ROUTES = 'network.static_routes';
  const dhcpRoles = [...nics].filter(([, n]) => !n.cidr && n.ok).map(([role]) => role);
  for (const route of routes) {
    const name = `route ${quote(route.text)}`;
    const gw = route.gateway;
    const holder = [...nics].find(([, n]) => n.cidr && contains(n.cidr, gw));
    if (!holder) {
      if ([...nics.values()].some((n) => !n.ok)) continue; // a NIC address is itself bad: reported there
      const statics = [...nics].filter(([, n]) => n.cidr).map(([role, n]) => `${n.cidr!.network} (${role})`);
      problem(
        ROUTES,
        'route-gateway-unknown',
        `${name}: no NIC's network holds the gateway ${gw}${statics.length ? `; the static networks are ${statics.join(', ')}` : ''}${
          dhcpRoles.length
            ? `. ${dhcpRoles.join(' and ')} ${dhcpRoles.length === 1 ? 'uses' : 'use'} DHCP, whose subnet is not known until the lease: a route through ${dhcpRoles.length === 1 ? 'it' : 'them'} needs a static network.${dhcpRoles[0]}_ip`
            : ''
        }`,
      );
      continue;
    }
    const [role, nic] = holder;
    const c = nic.cidr!;
    if (gw === c.address) problem(ROUTES, 'route-gateway-not-host', `${name}: ${gw} is the appliance's own ${role} address; the gateway must be another host`);
    else if (gw === c.networkAddress || gw === c.broadcastAddress)
      problem(
        ROUTES,
        'route-gateway-not-host',
        `${name}: ${gw} is the ${gw === c.networkAddress ? 'network' : 'broadcast'} address of ${c.network}, not a host`,
      );
    const inRange = ranges.find((r) => contains(r, gw));
    if (inRange)
      problem(
        ROUTES,
        'route-gateway-in-range',
        `${name}: the gateway ${gw} lies in the load-balancer range ${inRange.network}; the appliance answers for every address there`,
      );
    for (const [other, n] of nics) {
      if (n.cidr && overlaps(route.destination, n.cidr))
        problem(
          ROUTES,
          'route-overlaps-nic',
          `${name}: ${route.destination.network} overlaps the ${other} network ${n.cidr.network}, which is on-link (its hosts are reached directly)`,
        );
    }
  }
  if (routes.length) {
    type Tagged = { cidr: Cidr; kind: 'route' | 'range' | 'extra'; text?: string };
    overlapsSorted<Tagged>(
      [
        ...routes.map((r): Tagged => ({ cidr: r.destination, kind: 'route', text: r.text })),
        ...ranges.map((cidr): Tagged => ({ cidr, kind: 'range' })),
        ...extra.map((cidr): Tagged => ({ cidr, kind: 'extra' })),
      ],
      (inner, outer) => {
        const [route, other] = inner.kind === 'route' ? [inner, outer] : [outer, inner];
        const name = `route ${quote(route.text!)}`;
        if (other.kind === 'route') problem(ROUTES, 'routes-overlap', `${name}: ${route.cidr.network} overlaps route ${quote(other.text!)}`);
        else if (other.kind === 'range')
          problem(ROUTES, 'route-overlaps-range', `${name}: ${route.cidr.network} overlaps the load-balancer range ${other.cidr.network}`);
        else
          problem(
            ROUTES,
            'route-overlaps-network',
            `${name}: ${route.cidr.network} overlaps the additional workload network ${other.cidr.network}, which is routed through the workload gateway`,
          );
      },
      (inner, outer) => inner.kind === 'route' || outer.kind === 'route',
    );
  }

  if (problems.length) return { problems, warnings };

  const nic = (role: NicRole): NicConfig => {
    const n = nics.get(role)!;
    const address: StaticAddress | undefined = n.cidr && {
      address: n.cidr.address,
      prefix: n.cidr.prefix,
      cidr: `${n.cidr.address}/${n.cidr.prefix}`,
      network: n.cidr.network,
    };
    return { role, ...(address && { address }), ...(n.gateway && { gateway: n.gateway }) };
  };
  const config: ApplianceConfig = {
    deployment,
    appliance: {
      ...(v['appliance.root_pwd'] !== undefined && { rootPassword: v['appliance.root_pwd'] as string }),
      permitRootLogin: v['appliance.permit_root_login'] as boolean | 'prohibit-password',
      sshAuthorizedKeys: v['appliance.ssh_authorized_keys'] as string[],
      ...(caCert && caKey && { caCert, caKey }),
    },
    network: {
      hostname: (v['network.hostname'] as string | undefined) ?? PROPERTY_BY_KEY.get('network.hostname')!.default,
      nameservers,
      ntpServers: v['network.ntp_servers'] as string[],
      management: nic('management'),
      workload: nic('workload'),
      ...(deployment === 'frontend' && { frontend: nic('frontend') }),
      additionalWorkloadNetworks: extra.map((c) => c.network),
      staticRoutes: routes.map((r) => ({ destination: r.destination.network, gateway: r.gateway })),
      searchDomains: (v['network.search_domains'] as string[] | undefined) ?? [],
    },
    loadbalance: {
      serviceIpRanges: ranges.map((c) => c.network),
      dataplanePort: v['loadbalance.dataplane_port'] as number,
      haproxyUser: v['loadbalance.haproxy_user'] as string,
      haproxyPassword: v['loadbalance.haproxy_pwd'] as string,
    },
  };
  return { config, problems, warnings };
}

/**
 * Validation as the commands use it: the environment ingest read, checked whole. Returns the
 * configuration and its warnings, or throws an InputError listing every problem (and the warnings
 * found on the way), so that nothing is changed.
 */
export function validateEnvironment(
  env: OvfEnvironment,
  options: { deployment?: Deployment; now?: Date } = {},
): { config: ApplianceConfig; warnings: Problem[] } {
  const result = validateProperties(env.properties, {
    ...(options.deployment && { deployment: options.deployment }),
    ...(options.now && { now: options.now }),
    ...(env.adapters.length > 0 && { adapterCount: env.adapters.length }),
  });
  if (!result.config) {
    const n = result.problems.length;
    throw new InputError(
      `the OVF environment from ${env.source} has ${n} problem${n === 1 ? '' : 's'}; nothing was changed`,
      nonEmpty(result.problems),
      result.warnings,
    );
  }
  return { config: result.config, warnings: result.warnings };
}

/** The configuration with every secret replaced by a marker, for printing and the state file. */
export function redact(config: ApplianceConfig): unknown {
  const R = '(redacted)';
  return {
    ...config,
    appliance: {
      ...config.appliance,
      ...(config.appliance.rootPassword !== undefined && { rootPassword: R }),
      ...(config.appliance.caKey !== undefined && { caKey: R }),
    },
    loadbalance: { ...config.loadbalance, haproxyPassword: R },
  };
}
