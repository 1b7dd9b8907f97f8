/**
 * Where things are on the appliance: every path the agent writes, reads or owns, in one place.
 * Facts read them, planning and rendering name them in the files they make, apply writes and
 * guards them, and the verifier reads some of them back (src/verify/script.ts keeps its own copy
 * of the few it needs, held equal to these by a test, to keep the verifier's start-up small).
 * Plain constants: importing this module runs nothing.
 */
import type { NicRole } from '../config/types.js';

// --- haproxy -------------------------------------------------------------------------------

export const HAPROXY_CFG = '/etc/haproxy/haproxy.cfg';
/** The stats socket the Data Plane API and reloads use (the seed's `-x /run/haproxy.sock`). */
export const STATS_SOCKET = '/run/haproxy.sock';
/** The master socket (the seed's `-S /var/run/haproxy-master.sock`). */
export const MASTER_SOCKET = '/run/haproxy-master.sock';

// --- the PKI -------------------------------------------------------------------------------

export const PKI_PATHS = {
  caCert: '/etc/haproxy/ca.crt',
  caKey: '/etc/haproxy/ca.key',
  serverCert: '/etc/haproxy/server.crt',
  serverKey: '/etc/haproxy/server.key',
  /** Debian's place for local CAs; `update-ca-certificates` adds it to the system trust store. */
  trustStore: '/usr/local/share/ca-certificates/haproxy-appliance-ca.crt',
} as const;

// --- the Data Plane API --------------------------------------------------------------------

export const DATAPLANEAPI_BIN = '/usr/local/bin/dataplaneapi';
export const DATAPLANEAPI_UNIT = '/etc/systemd/system/dataplaneapi.service';
export const DATAPLANEAPI_YAML = '/etc/haproxy/dataplaneapi.yaml';

// --- access --------------------------------------------------------------------------------

export const SSHD_DROPIN = '/etc/ssh/sshd_config.d/50-haproxy-appliance.conf';
/** Root's keys: the agent owns a marked block of it (appliance.ssh_authorized_keys), the rest is the admin's. */
export const ROOT_AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';

// --- the network ---------------------------------------------------------------------------

export const NETWORKD_DIR = '/etc/systemd/network';

export const NETWORK_PATHS = {
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
    ...roles.map(NETWORK_PATHS.link),
    ...roles.map(NETWORK_PATHS.network),
    NETWORK_PATHS.anyip,
    NETWORK_PATHS.rtTables,
    NETWORK_PATHS.timesyncd,
    NETWORK_PATHS.resolved,
  ];
}

// --- the agent's own -----------------------------------------------------------------------

export const STATE_DIR = '/var/lib/haproxy-appliance';
/** What the agent applied (format: src/appliance/state.ts); the verifier reads it. */
export const STATE_FILE = `${STATE_DIR}/state.json`;
/** The crypt of the root password property last applied (not the password; root-only). */
export const ROOT_PASSWORD_MARKER = `${STATE_DIR}/root-password.applied`;
/** The PKI work folder on the appliance (0700, root only), where OpenSSL makes keys. */
export const PKI_WORK_DIR = `${STATE_DIR}/pki-work`;
/** Apply's journal (src/apply/journal.ts). */
export const JOURNAL_FILE = `${STATE_DIR}/journal.json`;
/** Apply's backups of the files it replaced, one folder per run. */
export const BACKUP_DIR = `${STATE_DIR}/backups`;
/** The run lock (tmpfs: nothing of it survives a reboot); under --root the root folder itself is locked. */
export const RUN_LOCK = '/run/haproxy-appliance.lock';

// --- what the agent owns -------------------------------------------------------------------

/**
 * Every path the agent may write or remove, for checking what a journal names before recovery
 * acts on it: a journal (read from the tree the agent works on, which may be an untrusted image)
 * may name only these. The fixed set, plus whatever the given plan writes or removes.
 */
export function ownedPaths(plan?: { files: readonly { path: string }[]; remove: readonly string[] }): Set<string> {
  return new Set([
    ...ownedNetworkPaths(),
    NETWORK_PATHS.hostname,
    NETWORK_PATHS.hosts,
    ...Object.values(PKI_PATHS),
    HAPROXY_CFG,
    DATAPLANEAPI_UNIT,
    DATAPLANEAPI_YAML,
    SSHD_DROPIN,
    ROOT_AUTHORIZED_KEYS,
    ...(plan?.files.map((f) => f.path) ?? []),
    ...(plan?.remove ?? []),
  ]);
}

/**
 * The one registry of files that can hold a secret (a password, a hash of one, a private key):
 * planning marks every planned file found here secret and 0600 (src/plan/secrets.ts), and apply
 * treats a path found here as secret whatever the plan says, so a dry run's diff, `--json` and
 * the backups never show its content (backups are 0600 in a 0700 folder anyway).
 *
 * - haproxy.cfg: the userlist's crypt of the API password;
 * - ca.key, server.key: private keys;
 * - dataplaneapi.yaml: the API 2.9+ reads users and passwords from it (`users:`), so an existing
 *   one may hold the API password in clear text even where the agent's own holds none;
 * - root-password.applied: the crypt of the root password.
 */
export const SECRET_PATHS: readonly string[] = [HAPROXY_CFG, PKI_PATHS.caKey, PKI_PATHS.serverKey, DATAPLANEAPI_YAML, ROOT_PASSWORD_MARKER];

const secretSet = new Set(SECRET_PATHS);

export function isSecretPath(path: string): boolean {
  return secretSet.has(path);
}
