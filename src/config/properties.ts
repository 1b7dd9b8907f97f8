/**
 * The one declaration of every OVF property the appliance reads. From this list come:
 * validation (each property's zod schema), `docs/properties.md`, and the OVF ProductSections
 * printed by `haproxy-appliance ovf-descriptor` — so the OVA descriptor and the agent cannot drift.
 *
 * Each schema takes the raw string (or undefined when the property is absent) and yields the
 * normalized value, or an issue whose message completes the sentence "<key>: …".
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import type { Deployment } from './types.js';
import { findControlCharacter, parseBoolean, scanPem, splitList, unsetToUndefined } from './normalize.js';
import { isIP, isIPv4, rangeOf, readCidr, type Cidr } from './ipv4.js';
import type { ProblemCode } from '../problems.js';
import { parseAuthorizedKeys, keyLine, KEY_TYPES, MIN_RSA_BITS } from './ssh-keys.js';
import {
  MAX_ADDITIONAL_NETWORKS,
  MAX_AUTHORIZED_KEYS,
  MAX_NAMESERVERS,
  MAX_VALUE,
  MAX_NTP_SERVERS,
  MAX_SEARCH_DOMAINS,
  MAX_SERVICE_RANGES,
  MAX_STATIC_ROUTE_ENTRY,
  MAX_STATIC_ROUTES,
  quote,
} from './limits.js';

export type OvfClass = 'appliance' | 'network' | 'loadbalance';

export interface PropertyDeclaration {
  /** The key a guest sees, `CLASS.NAME`. */
  key: string;
  ovfClass: OvfClass;
  /** The key inside its ProductSection (without the class). */
  name: string;
  ovfType: 'string' | 'boolean' | 'int';
  /** OVF qualifiers, e.g. `MinLen(6) MaxLen(128)`. */
  qualifiers?: string;
  /** The default as the descriptor writes it (a string, like every OVF value). */
  default: string;
  label: string;
  description: string;
  /** Passwords and private keys: never logged, printed or stored in clear. */
  secret: boolean;
  /** Multi-line values (PEM) may hold newlines; every other property is single-line. */
  multiline: boolean;
  /** Deployment configurations that show it; undefined means every configuration. */
  configurations?: Deployment[];
  schema: z.ZodType<unknown, string | undefined>;
}

type Ctx = z.core.$RefinementCtx<string | undefined>;

/**
 * Adds an issue and returns z.NEVER, for use as `return fail(ctx, code, '…')` inside a transform.
 * The problem code rides in the issue's params (see issueCode).
 */
function fail(ctx: Ctx, code: ProblemCode, message: string): never {
  ctx.addIssue({ code: 'custom', message, params: { code } });
  return z.NEVER;
}

/** The problem code of a schema issue (every issue of these schemas is made by fail()). */
export function issueCode(issue: z.core.$ZodIssue): ProblemCode {
  return (issue as { params?: { code?: ProblemCode } }).params?.code ?? 'invalid-value';
}

/**
 * The common front of every schema: the length limit, unset handling (`null`, blank), trimming,
 * the control character rule, then `parse` on the remaining text. `verbatim` (passwords): the
 * value is kept exactly as given, and only the empty string and the literal `null` mean unset.
 */
function field<T>(
  parse: (value: string, ctx: Ctx) => T,
  options: { multiline?: boolean; whenUnset?: T; verbatim?: boolean } = {},
): z.ZodType<T | undefined, string | undefined> {
  const max = MAX_VALUE;
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw !== undefined && raw.length > max) return fail(ctx, 'value-too-long', `is ${raw.length} characters long; at most ${max} are accepted`);
      const value = options.verbatim ? (raw === undefined || raw === '' || raw === 'null' ? undefined : raw) : unsetToUndefined(raw);
      if (value === undefined) return options.whenUnset;
      if (!options.multiline) {
        const control = findControlCharacter(value);
        if (control) return fail(ctx, 'control-character', `contains a control character (${control}); this property must be a single line of text`);
      }
      return parse(value, ctx);
    });
}

/**
 * Any printable characters, kept exactly as given (leading and trailing spaces too). Blank (the
 * empty string, what a vApp form left empty hands over) and `null` (what guest tools hand over for
 * unset) mean unset; anything else is a password, spaces included: six spaces typed on purpose
 * are a password, and a single stray space is refused as too short rather than ignored.
 */
function password(what: string) {
  return field(
    (v, ctx) => {
      const length = [...v].length;
      if (length < 6 || length > 128) return fail(ctx, 'password-length', `${what} is ${length} characters long; it must be 6 to 128 characters`);
      return v;
    },
    { verbatim: true },
  );
}

/** True, False (today's boolean, any spelling) or `prohibit-password` (`without-password`, sshd's old name, too). */
const rootLogin = () =>
  field(
    (v, ctx): boolean | 'prohibit-password' => {
      if (/^(prohibit|without)-password$/iu.test(v)) return 'prohibit-password';
      return parseBoolean(v) ?? fail(ctx, 'not-boolean', `${quote(v)} is not True, False or prohibit-password`);
    },
    { whenUnset: true },
  );

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/u;

/** A reason a value is refused, with its problem code. */
export interface Refusal {
  code: ProblemCode;
  reason: string;
}

/** RFC 1123 host name or FQDN (one trailing dot allowed: the root); returns a reason when not one. */
export function hostnameProblem(v: string): Refusal | undefined {
  const name = v.endsWith('.') ? v.slice(0, -1) : v;
  if (name.length > 253) return { code: 'hostname-too-long', reason: `${quote(v)} is longer than 253 characters` };
  const bad = name.split('.').find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    return bad === ''
      ? { code: 'hostname-empty-label', reason: `${quote(v)} has an empty label (two dots in a row, or a leading dot)` }
      : {
          code: 'hostname-bad-label',
          reason: `${quote(v)} is not a valid host name: label ${quote(bad)} must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen (RFC 1123)`,
        };
  }
  if (/^\d+$/u.test(name.split('.').at(-1)!)) return { code: 'hostname-numeric', reason: `${quote(v)} is not a valid host name: the last label is all digits` };
  return undefined;
}

/** A valid host name in canonical form: lower case, without the trailing dot of an absolute name. */
export function canonicalHostname(v: string): string {
  return (v.endsWith('.') ? v.slice(0, -1) : v).toLowerCase();
}

const hostname = () =>
  field((v, ctx) => {
    const p = hostnameProblem(v);
    return p ? fail(ctx, p.code, p.reason) : canonicalHostname(v);
  });

/** An interface address in CIDR form; the host address may be neither network nor broadcast. */
const interfaceAddress = () =>
  field((v, ctx) => {
    const c = readCidr(v);
    if ('reason' in c) return fail(ctx, c.code, c.reason);
    if (c.prefix < 1 || c.prefix > 30)
      return fail(ctx, 'prefix-out-of-range', `prefix length /${c.prefix} must be between /1 and /30 for an interface address`);
    if (c.address === c.networkAddress) return fail(ctx, 'network-address', `${c.address} is the network address of ${c.network}, not a host address`);
    if (c.address === c.broadcastAddress) return fail(ctx, 'broadcast-address', `${c.address} is the broadcast address of ${c.network}, not a host address`);
    return c;
  });

const ipv4 = () => field((v, ctx) => (isIPv4(v) ? v : fail(ctx, 'not-ipv4', `${quote(v)} is not an IPv4 address (like 10.191.191.254)`)));

/** A list property: at most `max` items (checked before any item is), none twice. */
function list<T>(item: (v: string, ctx: Ctx) => T, what: string, max: number) {
  return field(
    (v, ctx) => {
      const items = splitList(v);
      if (items.length > max) return fail(ctx, 'too-many-items', `${items.length} ${what} given; at most ${max} are allowed`);
      const seen = new Set<string>();
      const out: T[] = [];
      for (const i of items) {
        if (seen.has(i)) return fail(ctx, 'listed-twice', `${quote(i)} is listed twice`);
        seen.add(i);
        out.push(item(i, ctx));
      }
      return out;
    },
    { whenUnset: [] as T[] },
  );
}

/** A network (host bits clear); `1.2.3.4/28` is refused with the network address suggested. */
function networkCidr(v: string, ctx: Ctx): Cidr {
  const c = readCidr(v);
  if ('reason' in c) return fail(ctx, c.code, c.reason);
  if (c.address !== c.networkAddress) {
    return fail(ctx, 'host-bits-set', `${v} has host bits set (the kernel rejects it as a route); did you mean ${c.network}?`);
  }
  return c;
}

const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);

/**
 * Canonical PEM of the expected kind, or an issue. A certificate property holds exactly one
 * `CERTIFICATE` block and a key property exactly one private key block, with nothing else around
 * them: any other block (a private key pasted with the certificate) or text is refused, and
 * neither the text nor the block is ever quoted in the message (it may be a key).
 */
function pem(kind: 'certificate' | 'key') {
  return field(
    (v, ctx) => {
      const want = kind === 'key' ? 'PRIVATE KEY' : 'CERTIFICATE';
      const { blocks, outside } = scanPem(v);
      if (blocks.length === 0) return fail(ctx, 'not-pem', `is not PEM: expected a -----BEGIN ${want}----- block (plain or base64-encoded)`);
      const isWanted = (label: string) => (kind === 'key' ? KEY_LABELS.has(label) : label === 'CERTIFICATE');
      const other = blocks.find((b) => !isWanted(b.label));
      if (other) {
        const label = other.label.length > 32 ? `${other.label.slice(0, 32)}…` : other.label;
        return fail(
          ctx,
          'pem-foreign-block',
          kind === 'certificate'
            ? KEY_LABELS.has(other.label) || /KEY/u.test(other.label)
              ? `holds a ${label} block besides the certificate; this property takes the CA certificate only (the key goes in appliance.ca_cert_key, which is kept secret); nothing of the key is shown here`
              : `holds a ${label} block; this property takes one CERTIFICATE block only`
            : `holds a ${label} block; this property takes one private key block only`,
        );
      }
      if (blocks.length > 1) {
        return fail(
          ctx,
          'pem-several-blocks',
          kind === 'certificate'
            ? `holds ${blocks.length} certificates; give exactly one, the CA certificate that signs the server certificate (a chain is not accepted: the appliance serves no chain, so clients must trust this CA directly)`
            : `holds ${blocks.length} private keys; give exactly one`,
        );
      }
      if (outside) return fail(ctx, 'pem-text-outside', `holds text outside the -----BEGIN ${want}----- block (not shown); give only the PEM block`);
      const canonical = blocks[0]!.pem;
      if (/Proc-Type:\s*4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/u.test(canonical))
        return fail(ctx, 'key-encrypted', 'is an encrypted private key; the appliance needs it unencrypted');
      try {
        if (kind === 'certificate') new X509Certificate(canonical);
        else createPrivateKey(canonical);
      } catch {
        return kind === 'certificate'
          ? fail(ctx, 'certificate-unreadable', 'is not a readable X.509 certificate')
          : fail(ctx, 'key-unreadable', 'is not a readable private key');
      }
      return canonical;
    },
    { multiline: true },
  );
}

/**
 * The Data Plane API user: one token of haproxy's userlist (no space, `#`, quote or backslash,
 * which haproxy's config parser would split, comment or unescape) that HTTP basic authentication
 * can carry (RFC 7617: no colon in the user-id, which ends at the first one; no control
 * character; printable ASCII only, since clients disagree on how to encode anything else).
 */
export function userProblem(v: string): Refusal | undefined {
  if (v.length > 64) return { code: 'user-too-long', reason: `is ${v.length} characters long; use at most 64` };
  const bad = /[^\x21-\x7e]|[:#"'\\]/u.exec(v)?.[0];
  if (bad === undefined) return undefined;
  const what =
    bad === ':'
      ? 'a colon (HTTP basic authentication ends the user name at the first colon, so the login could never succeed)'
      : bad === ' '
        ? 'a space'
        : /[#"'\\]/u.test(bad)
          ? `${JSON.stringify(bad)} (the haproxy userlist takes one plain token)`
          : `${JSON.stringify(bad)} (only printable ASCII characters can be sent in HTTP basic authentication)`;
  return {
    code: 'user-bad-character',
    reason: `${quote(v)} is not a plain user name: it contains ${what}; use up to 64 printable ASCII characters without spaces, colons, quotes, backslashes or #`,
  };
}

/** One entry of `network.static_routes`: the network (host bits clear) and the gateway. */
export interface StaticRouteEntry {
  /** The entry as written (trimmed), for messages. */
  text: string;
  destination: Cidr;
  gateway: string;
}

/** Network kinds no route may lead to (the same as a load-balancer range may not be). */
export const NOT_ROUTABLE = ['loopback', 'multicast', 'linkLocal', 'unspecified', 'broadcast', 'reserved'];

/**
 * `CIDR via GATEWAY` entries separated by commas (spaces inside an entry, any case of `via`).
 * The count is checked before any entry is read; each bad entry is reported, named. Whether a
 * NIC's subnet holds the gateway, and what the network may not overlap, is decided in
 * validate.ts (it needs the other properties).
 */
function staticRoutes() {
  return field(
    (v, ctx) => {
      const entries = v
        .split(',')
        .map((e) => e.trim())
        .filter((e) => e.length > 0);
      if (entries.length > MAX_STATIC_ROUTES) return fail(ctx, 'too-many-items', `${entries.length} routes given; at most ${MAX_STATIC_ROUTES} are allowed`);
      const seen = new Set<string>();
      const out: StaticRouteEntry[] = [];
      for (const text of entries) {
        const name = `route ${quote(text)}`;
        if (text.length > MAX_STATIC_ROUTE_ENTRY) {
          fail(ctx, 'route-syntax', `${name} is ${text.length} characters long; an entry is CIDR via GATEWAY (at most ${MAX_STATIC_ROUTE_ENTRY} characters)`);
          continue;
        }
        const m = /^(\S+)\s+via\s+(\S+)$/iu.exec(text);
        if (!m) {
          const hint = /\svia\s.*\svia\s/iu.test(text)
            ? 'separate routes with commas'
            : /\svia\s/iu.test(text) || /via/iu.test(text)
              ? 'write it as CIDR via GATEWAY, like 10.20.0.0/16 via 192.168.1.254'
              : 'give the gateway: CIDR via GATEWAY, like 10.20.0.0/16 via 192.168.1.254';
          fail(ctx, 'route-syntax', `${name} is not CIDR via GATEWAY: ${hint}`);
          continue;
        }
        const [, dest, gateway] = m as unknown as [string, string, string];
        const c = readCidr(dest);
        if ('reason' in c) {
          fail(ctx, c.code, `${name}: ${c.reason}`);
          continue;
        }
        if (c.prefix === 0) {
          fail(
            ctx,
            'route-default',
            `${name} is a default route; the appliance's only default route is via network.management_gateway (workload and frontend have theirs in their own tables)`,
          );
          continue;
        }
        if (c.address !== c.networkAddress) {
          fail(ctx, 'host-bits-set', `${name}: ${dest} has host bits set (the kernel rejects it as a route); did you mean ${c.network}?`);
          continue;
        }
        const kind = rangeOf(c.networkAddress);
        if (NOT_ROUTABLE.includes(kind)) {
          fail(ctx, 'route-not-unicast', `${name}: ${c.network} is a ${kind} network; a route must lead to ordinary unicast addresses`);
          continue;
        }
        if (!isIPv4(gateway)) {
          fail(ctx, 'not-ipv4', `${name}: the gateway ${quote(gateway)} is not an IPv4 address`);
          continue;
        }
        const key = `${c.network} via ${gateway}`;
        if (seen.has(key)) {
          fail(ctx, 'listed-twice', `${name} is listed twice`);
          continue;
        }
        seen.add(key);
        out.push({ text, destination: c, gateway });
      }
      return out;
    },
    { whenUnset: [] as StaticRouteEntry[] },
  );
}

/** A DNS domain name (RFC 1123 labels, as a host name), lower-cased, without a trailing dot. */
function searchDomain(v: string, ctx: Ctx): string {
  const p = hostnameProblem(v);
  return p ? fail(ctx, p.code, p.reason.replace('not a valid host name', 'not a valid domain name')) : canonicalHostname(v);
}

/** Shorthand for the declarations below. */
function declare(
  key: string,
  rest: Omit<PropertyDeclaration, 'key' | 'ovfClass' | 'name' | 'secret' | 'multiline' | 'default' | 'ovfType'> &
    Partial<Pick<PropertyDeclaration, 'secret' | 'multiline' | 'default' | 'ovfType'>>,
): PropertyDeclaration {
  const [ovfClass, name] = key.split('.') as [OvfClass, string];
  return { key, ovfClass, name, ovfType: 'string', default: '', secret: false, multiline: false, ...rest };
}

export const PROPERTIES: readonly PropertyDeclaration[] = [
  declare('appliance.root_pwd', {
    label: 'Root Password',
    description:
      "Initial password of the root user (6-128 characters, any printable characters, taken exactly as typed: spaces count). Applied at first boot and whenever this property changes; later changes are made in the OS. Empty (or null) keeps the image's password; a value of only spaces is a password like any other.",
    qualifiers: 'MinLen(0) MaxLen(128)',
    secret: true,
    schema: password('the root password'),
  }),
  declare('appliance.permit_root_login', {
    default: 'True',
    qualifiers: 'ValueMap{"True","False","prohibit-password"}',
    label: 'Permit Root Login',
    description:
      "Whether root may log in over SSH: True (with a password or a key), False (not at all), or prohibit-password (with a key of appliance.ssh_authorized_keys only; sshd's PermitRootLogin prohibit-password). True and False are today's boolean, in any of its spellings (true, 1, yes…); prohibit-password needs at least one key in appliance.ssh_authorized_keys, so root cannot be locked out.",
    schema: rootLogin(),
  }),
  declare('appliance.ssh_authorized_keys', {
    label: 'Root SSH Public Keys',
    description: `OpenSSH public keys that may log in as root (the lines of a .pub file, like "ssh-ed25519 AAAA… you@host"), separated by newlines or commas; keys whose newlines a form turned into spaces are found again, so a comment may hold spaces but no comma. Types: ${KEY_TYPES.join(', ')} (RSA of at least ${MIN_RSA_BITS} bits); no options (from=, command=) and no certificates. Each is checked as a real key; a private key is refused and never shown. The agent owns a marked block of /root/.ssh/authorized_keys (0600, in a 0700 folder); keys added by hand outside it are kept. Blank removes the block. At most ${MAX_AUTHORIZED_KEYS} keys.`,
    qualifiers: 'MinLen(0) MaxLen(65535)',
    multiline: true,
    schema: field(
      (v, ctx) => {
        const r = parseAuthorizedKeys(v, MAX_AUTHORIZED_KEYS);
        return 'keys' in r ? r.keys.map(keyLine) : fail(ctx, r.code, r.reason);
      },
      { multiline: true, whenUnset: [] as string[] },
    ),
  }),
  declare('appliance.ca_cert', {
    label: 'TLS Certificate Authority Certificate (ca.crt)',
    description:
      "PEM certificate of the CA that signs the Data Plane API's server certificate (basicConstraints CA:TRUE, not expired): exactly one CERTIFICATE block and nothing else. A chain, a private key or other text in this field is refused (the key goes in appliance.ca_cert_key). Leave blank, together with the key, to have the appliance generate a CA once and keep it.",
    qualifiers: 'MinLen(0) MaxLen(65535)',
    multiline: true,
    schema: pem('certificate'),
  }),
  declare('appliance.ca_cert_key', {
    label: 'TLS Certificate Authority Private Key (ca.key)',
    description: 'Unencrypted PEM private key of that CA: exactly one private key block. Give both the certificate and the key, or neither.',
    qualifiers: 'MinLen(0) MaxLen(65535)',
    multiline: true,
    secret: true,
    schema: pem('key'),
  }),
  declare('network.hostname', {
    default: 'haproxy.local',
    label: 'Host Name',
    description:
      'Host name or fully qualified domain name of the appliance (RFC 1123). Case and one trailing dot are dropped: HAProxy.Local. is haproxy.local.',
    schema: hostname(),
  }),
  declare('network.nameservers', {
    default: '1.1.1.1, 1.0.0.1',
    label: 'DNS',
    description: 'Up to three DNS servers, separated by commas.',
    schema: list((v, ctx) => (isIP(v) ? v : fail(ctx, 'not-ip', `${quote(v)} is not an IP address`)), 'nameservers', MAX_NAMESERVERS),
  }),
  declare('network.ntp_servers', {
    label: 'NTP Servers',
    description:
      "Optional NTP servers (host names or IP addresses, up to 16), separated by commas, for systemd-timesyncd. Blank keeps the image's time settings; air-gapped sites set their own.",
    schema: list(
      (v, ctx) => (isIP(v) ? v : ((p) => (p ? fail(ctx, p.code, p.reason) : canonicalHostname(v)))(hostnameProblem(v))),
      'NTP servers',
      MAX_NTP_SERVERS,
    ),
  }),
  declare('network.static_routes', {
    label: 'Static Routes',
    description: `Optional routes to networks the NICs' gateways do not reach, as CIDR via GATEWAY entries separated by commas (like 10.20.0.0/16 via 192.168.1.254, 172.16.5.0/24 via 172.16.10.254); at most ${MAX_STATIC_ROUTES}. The gateway must lie in a NIC's static subnet: the route goes on that NIC (management: the main table; workload or frontend: its own table, for replies, and the main table, for connections the appliance opens). No default route (0.0.0.0/0), and no network that overlaps a NIC's network, a load-balancer range, an additional workload network or another route.`,
    schema: staticRoutes(),
  }),
  declare('network.search_domains', {
    label: 'DNS Search Domains',
    description: `Optional DNS search domains (up to ${MAX_SEARCH_DOMAINS}), separated by commas, set on the management NIC for systemd-resolved (the search line of /etc/resolv.conf). They replace the domain taken from network.hostname and, on DHCP, the lease's domains. Blank: the domain of network.hostname.`,
    schema: list(searchDomain, 'search domains', MAX_SEARCH_DOMAINS),
  }),
  declare('network.management_ip', {
    label: 'Management IP',
    description:
      'Static address of the management NIC in CIDR notation (like 10.191.181.52/20). Blank uses DHCP (not recommended: the Supervisor must reach the Data Plane API at a stable address).',
    schema: interfaceAddress(),
  }),
  declare('network.management_gateway', {
    label: 'Management Gateway',
    description: "Gateway of the management network; the appliance's only default route.",
    schema: ipv4(),
  }),
  declare('network.workload_ip', {
    label: 'Workload IP',
    description: 'Static address of the workload NIC in CIDR notation. Blank uses DHCP. Must lie outside the load-balancer IP ranges.',
    schema: interfaceAddress(),
  }),
  declare('network.workload_gateway', {
    label: 'Workload Gateway',
    description: 'Gateway of the workload network; replies to clients that reached the appliance over the workload NIC leave through it.',
    schema: ipv4(),
  }),
  declare('network.additional_workload_networks', {
    label: 'Additional Workload Networks',
    description:
      'Networks (CIDR, separated by commas) reachable through the workload gateway, such as further Supervisor workload networks; at most 1000. Must not include the primary workload network nor overlap a load-balancer IP range.',
    schema: list(networkCidr, 'networks', MAX_ADDITIONAL_NETWORKS),
  }),
  declare('network.frontend_ip', {
    label: 'Frontend IP',
    description: 'Static address of the frontend NIC in CIDR notation. Blank uses DHCP. Must lie outside the load-balancer IP ranges.',
    configurations: ['frontend'],
    schema: interfaceAddress(),
  }),
  declare('network.frontend_gateway', {
    label: 'Frontend Gateway',
    description: 'Gateway of the frontend network; replies to clients that reached the appliance over the frontend NIC leave through it.',
    configurations: ['frontend'],
    schema: ipv4(),
  }),
  declare('loadbalance.service_ip_range', {
    label: 'Load Balancer IP Ranges',
    description:
      'Networks (CIDR, separated by commas, like 192.168.0.0/24; at most 1000, none overlapping another) of virtual IPs. The appliance answers for every address in them, so they must hold no other host: not its own addresses, gateways or nameservers.',
    schema: list(networkCidr, 'ranges', MAX_SERVICE_RANGES),
  }),
  declare('loadbalance.dataplane_port', {
    ovfType: 'int',
    default: '5556',
    qualifiers: 'MinValue(1) MaxValue(65535)',
    label: 'Data Plane API Management Port',
    description: 'TCP port of the Data Plane API on the management address.',
    schema: field(
      (v, ctx) =>
        /^\d{1,5}$/u.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? Number(v) : fail(ctx, 'not-port', `${quote(v)} is not a port number from 1 to 65535`),
      { whenUnset: 5556 },
    ),
  }),
  declare('loadbalance.haproxy_user', {
    label: 'HAProxy User ID',
    description:
      'User name for the Data Plane API: 1-64 printable ASCII characters without spaces, colons, quotes, backslashes or # (HTTP basic authentication cannot carry a colon in the user name, and the haproxy userlist takes a single token).',
    schema: field((v, ctx) => ((p) => (p ? fail(ctx, p.code, p.reason) : v))(userProblem(v))),
  }),
  declare('loadbalance.haproxy_pwd', {
    label: 'HAProxy Password',
    description: 'Password for the Data Plane API user (6-128 characters, any printable characters, taken exactly as typed: spaces count).',
    qualifiers: 'MinLen(6) MaxLen(128)',
    secret: true,
    schema: password('the Data Plane API password'),
  }),
];

export const PROPERTY_BY_KEY: ReadonlyMap<string, PropertyDeclaration> = new Map(PROPERTIES.map((p) => [p.key, p]));
