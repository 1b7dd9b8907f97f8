/**
 * The verifier's data: what was observed on one appliance (parsed, no I/O), the results of the
 * checks, and one host's report. Everything here is plain data so parsers, checks and
 * reports stay pure and unit-testable.
 */
import type { PublicConfig } from '../appliance/state.js';

export type Status = 'pass' | 'warn' | 'fail' | 'skip';

/** One check's verdict. `id` is stable (documented in docs/verify.md); `subject` narrows it. */
export interface CheckResult {
  id: string;
  /** What the result is about when a check yields several, e.g. `192.168.0.1:443` or `workload`. */
  subject?: string;
  status: Status;
  /** What was found, naming the cause when it is not what it should be. */
  message: string;
  /** What to do about it (set for warn and fail). */
  remedy?: string;
}

/** A TCP listener as `ss -tlnp` / `netstat -tnlp` show it. */
export interface Listener {
  /** `0.0.0.0`, `::` or a concrete address (ss's `*` becomes `::` with dualStack). */
  address: string;
  port: number;
  family: 4 | 6;
  /** Interface the socket is bound to (`127.0.0.53%lo` → `lo`). */
  device?: string;
  /**
   * For `::`: true when it accepts IPv4 too (ss prints `*`), false when IPv6-only (ss prints
   * `[::]`), undefined when the tool cannot tell (netstat's `:::`; assumed to accept IPv4).
   */
  dualStack?: boolean;
  processes: { name: string; pid?: number }[];
}

/** One route of `ip -4 route show table all`. */
export interface Route {
  /** `unicast`, `local`, `broadcast`, `blackhole`, `unreachable`, `prohibit`, … */
  type: string;
  /** `default` or `a.b.c.d/n` (a host route gets `/32`). */
  dst: string;
  gateway?: string;
  dev?: string;
  /** `main`, `local`, `default` or the number as text. */
  table: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
}

/** One rule of `ip -4 rule`. */
export interface Rule {
  priority: number;
  /** `all` or `a.b.c.d/n`. */
  from: string;
  /** `all` or `a.b.c.d/n`. */
  to: string;
  /** `main`, `local`, `default` or the number as text; undefined for non-lookup actions. */
  table?: string;
  /** `lookup`, `blackhole`, `unreachable`, `prohibit`, `goto`, `nop`. */
  action: string;
  suppressPrefixLength?: number;
  iif?: string;
  oif?: string;
  fwmark?: string;
  not?: boolean;
}

/** One interface of `ip addr`. */
export interface Interface {
  name: string;
  up: boolean;
  /** operstate: UP, DOWN, UNKNOWN, LOWERLAYERDOWN… */
  operstate?: string;
  mac?: string;
  /** IPv4 `address/prefix`. */
  ipv4: string[];
}

/** How a service's state was learnt. */
export type ServiceMethod = 'systemd' | 'process';

export interface ServiceState {
  name: string;
  /** systemd: `active`, `inactive`, `failed`, `activating`…; process: `running` or `not running`. */
  state: string;
  active: boolean;
  method: ServiceMethod;
  pids: number[];
}

/** A process of interest (haproxy, dataplaneapi, sshd, systemd-networkd). */
export interface ProcessInfo {
  pid: number;
  comm: string;
  args: string;
  /** Seconds since it started. */
  elapsed?: number;
  /** The inode of its network namespace, when ps could tell. */
  netns?: string;
}

/** Why haproxy.cfg is known valid without `haproxy -c`: the running haproxy loaded it (seconds since the epoch). */
export interface LoadedEvidence {
  /** The newest worker's PID. */
  worker: number;
  /** When it started. */
  startedAt: number;
  /** haproxy.cfg's last change (ctime). */
  cfgChangedAt: number;
}

/** One `bind` of haproxy.cfg. */
export interface HaproxyBind {
  /** `frontend NAME` or `listen NAME`. */
  section: string;
  /** IPv4/IPv6 address; `0.0.0.0` / `::` for wildcards; undefined for unix sockets etc. */
  address?: string;
  port?: number;
  /** Last port of a range (`8000-8010`). */
  portEnd?: number;
  /** The bind's address text as written (`192.168.0.1:443`, `unix@/run/x.sock`). */
  text: string;
  line: number;
  /** Its section says `disabled`: haproxy does not bind it. */
  disabled?: boolean;
}

export interface CertInfo {
  /** Where it was read (`/etc/haproxy/server.crt`) or `served by <ip>:<port>`. */
  source: string;
  pem: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  /** `IP:1.2.3.4`, `DNS:x`, sorted. */
  sans: string[];
  ca: boolean;
  fingerprint256: string;
}

import type { SshAccess } from './parse/ssh-access.js';

/** What a section of the collection said about itself. */
export interface SectionInfo {
  /** Exit code of the command, undefined when it did not run at all. */
  rc?: number;
  stdout: string;
  stderr: string;
}

/** Everything collected from one appliance, parsed. Fields are undefined when not collected. */
export interface Observed {
  /** The user the script ran as (uid). */
  uid?: number;
  /** The appliance's clock (seconds since the epoch) when it ran the script. */
  remoteTime?: number;
  hostname?: string;
  etcHostname?: string;
  /** Nameservers of /etc/resolv.conf, and of systemd-resolved's upstream file when present. */
  resolvConf?: string[];
  resolvedUpstream?: string[];
  /** The search list of /etc/resolv.conf and of resolved's upstream file (their last `search`/`domain` line; empty: none). */
  resolvSearch?: string[];
  resolvedSearch?: string[];
  listeners?: Listener[];
  listenerTool?: 'ss' | 'netstat';
  /** Why the listeners are unknown (no tool, tool failed). */
  listenerProblem?: string;
  interfaces?: Interface[];
  routes?: Route[];
  rules?: Rule[];
  ipProblem?: string;
  services?: ServiceState[];
  serviceMethod?: ServiceMethod;
  processes?: ProcessInfo[];
  /**
   * haproxy.cfg's verdict: `haproxy -c`'s, or, when the running haproxy loaded the file as it is
   * (its newest worker started after the file's and the binary's last change), that evidence
   * (`loaded`; -c was not rerun).
   */
  haproxyCheck?: { ok: boolean; rc: number; output: string; loaded?: LoadedEvidence } | { missing: true };
  haproxyVersion?: string;
  haproxyCfgPath: string;
  /** Seconds since the epoch of haproxy.cfg's last change. */
  haproxyCfgMtime?: number;
  binds?: HaproxyBind[];
  certs: CertInfo[];
  /** Certificate files that were asked for but could not be read. */
  missingCerts: string[];
  stateText?: string;
  /** Root's keys (fingerprints), the modes of ~/.ssh, sshd's effective settings; undefined when not collected. */
  sshAccess?: SshAccess;
  /** Sections that came back, raw, for --json debugging of a surprise. */
  sections: Record<string, SectionInfo>;
}

/** The outcome of probing the Data Plane API over TLS (from the workstation). */
export interface ApiProbe {
  address: string;
  port: number;
  /** How it was reached: straight from the workstation, or through the SSH connection. */
  via: 'direct' | 'ssh';
  /** Set when the TLS connection failed; the other fields are then unset. */
  error?: string;
  peer?: CertInfo;
  /** Chain verified against the appliance CA. */
  authorized?: boolean;
  authorizationError?: string;
  /** Result of the authenticated GET /v2/info (or /v3/info), when credentials were given. */
  info?: { path: string; status: number; version?: string; error?: string };
}

/** Where the expected configuration came from. */
export type ExpectedSource = { kind: 'state'; path: string; version: string; appliedAt: string } | { kind: 'expect'; file: string };

export interface Expected {
  config: PublicConfig;
  source: ExpectedSource;
}

/** What the checks take: what was observed, what is expected, and the Data Plane API probe. */
export interface CheckInput {
  observed: Observed;
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

/** Why a host could not be checked. */
export type HostErrorKind = 'unreachable' | 'auth' | 'hostkey' | 'usage' | 'collect';

export interface HostReport {
  /** As given (command line or inventory name). */
  name: string;
  host: string;
  port: number;
  user: string;
  error?: { kind: HostErrorKind; message: string; remedy?: string };
  expected?: ExpectedSource;
  /** Which tools answered: listeners ss/netstat, services systemd/process. */
  methods?: { listeners?: string; services?: string };
  checks: CheckResult[];
  timings: { connectMs?: number; collectMs?: number; totalMs: number };
  /** Versions the appliance reported (haproxy, Data Plane API). */
  versions?: Record<string, string>;
  /** A host key newly recorded with --accept-new. */
  recordedHostKey?: string;
  /** With `verify --wait`: how many times the host was checked (this report is the last). */
  attempts?: number;
}

export interface FleetReport {
  hosts: HostReport[];
  exitCode: number;
  totalMs: number;
}
