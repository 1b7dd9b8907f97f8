/**
 * One host: connect → collect (one round trip) → parse → probe the Data Plane API → check.
 * A fleet: the same, N at a time, with a progress callback per host. Never throws for a host:
 * every failure ends up in that host's report.
 */
import type { Socket } from 'node:net';
import type { PublicConfig } from '../appliance/state.js';
import { collectionScript, newMarker, APPLIANCE_PATHS, splitSections } from './script.js';
import { connect, HostError, runScript, type HostKeyPolicy, type SshCredentials } from './ssh.js';
import type { ApiProbe, Observed, FleetReport, HostReport } from './types.js';
import type { HostSpec } from './inventory.js';
import { exitCodeOf } from './report.js';

export interface VerifyOptions {
  user: string;
  port: number;
  credentials: SshCredentials;
  hostKeys: HostKeyPolicy;
  /** A local OVF environment, validated: the expected configuration for every host. */
  expect?: { file: string; config: PublicConfig };
  api?: { user?: string; password?: string };
  concurrency: number;
  timeoutMs: number;
  /** The clock for certificate expiry and skew (tests pin it). */
  now?: () => Date;
  onProgress?: (event: ProgressEvent) => void;
  /** TCP connections already opened (by the command, during start-up), taken once per host. */
  preconnected?: Map<HostSpec, Promise<Socket>>;
  /**
   * `--wait`: check each host again until it is green or `deadline` (performance.now() ms) has
   * passed, `intervalMs` between attempts (see {@link retryable} for what is tried again).
   */
  wait?: { deadline: number; intervalMs: number };
}

/** The pause between two attempts of `verify --wait` on one host. */
export const WAIT_INTERVAL_MS = 2000;

/**
 * What is needed only once the collected output is in (zod for state.json, the checks, the network model,
 * the TLS probe): loaded while the first SSH handshake waits on the network, not before it.
 */
let later: Promise<[typeof import('./checks/index.js'), typeof import('./observed.js'), typeof import('./api.js'), typeof import('./expected.js')]> | undefined;
function loadLater() {
  later ??= Promise.all([import('./checks/index.js'), import('./observed.js'), import('./api.js'), import('./expected.js')]);
  return later;
}

export type ProgressEvent =
  | { kind: 'start'; name: string; index: number; total: number }
  | { kind: 'retry'; name: string; index: number; total: number; report: HostReport; attempt: number; leftMs: number }
  | { kind: 'done'; name: string; index: number; total: number; report: HostReport; finished: number };

/** What a section of the collection script prints, for the message when the output is too big. */
const SECTION_READS: Record<string, string> = {
  state: APPLIANCE_PATHS.state,
  certs: 'the certificates in /etc/haproxy',
  'listeners.ss': 'ss -Htnlp',
  'listeners.netstat': 'netstat -tnlp',
  'haproxy-check': `haproxy -c -f ${APPLIANCE_PATHS.haproxyCfg}`,
  'haproxy-cfg': APPLIANCE_PATHS.haproxyCfg,
  'haproxy-cfg-lines': `the section headers and binds of ${APPLIANCE_PATHS.haproxyCfg}`,
};

/** The most text kept for the early API probe (state.json and the certificates are a few kB). */
const EARLY_MAX_CHARS = 4 * 1024 * 1024;

export async function verifyHost(spec: HostSpec, opts: VerifyOptions): Promise<HostReport> {
  const t0 = performance.now();
  const host = spec.host;
  const port = spec.port ?? opts.port;
  const user = spec.user ?? opts.user;
  const base = { name: spec.name, host, port, user, checks: [] as HostReport['checks'] };
  let connected: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    const sock = opts.preconnected?.get(spec);
    opts.preconnected?.delete(spec);
    connected = await connect({ host, port, user }, opts.credentials, opts.hostKeys, opts.timeoutMs, sock);
    const tConnect = performance.now();
    const marker = newMarker();
    const apiUser = opts.api?.user;
    const apiPassword = opts.api?.password;
    const probe = (m: Awaited<ReturnType<typeof loadLater>>, cfg: PublicConfig, mgmt: string, observed: Observed): Promise<ApiProbe> => {
      const target = { address: mgmt, port: cfg.loadbalance.dataplanePort, timeoutMs: Math.min(opts.timeoutMs, 10_000), ssh: connected!.ssh };
      const user = apiUser ?? cfg.loadbalance.haproxyUser;
      const caPem = cfg.appliance.caCert ?? observed.certs.find((c) => c.source === APPLIANCE_PATHS.caCert)?.pem;
      return m[2].probeTls(target).then((p) => (user && apiPassword !== undefined && caPem ? m[2].probeApiInfo(p, target, caPem, user, apiPassword) : p));
    };
    // The script prints state.json and the certificates first: once they are in, the Data Plane
    // API is probed from here while the appliance runs the rest of the script.
    let early: Promise<ApiProbe> | undefined;
    let loaded: Awaited<ReturnType<typeof loadLater>> | undefined;
    // The text up to the end of the certs section, once it is in (before that, its pieces).
    let soFar = '';
    let pieces: string[] = [];
    let piecesLength = 0;
    // Each piece is searched once, with the end of the one before it (a marker line may be split
    // between pieces): no search goes over the whole output again (a hostile appliance can print
    // megabytes first).
    let tail = '';
    let certsDone = false;
    let tried = false;
    let section: string | undefined;
    const certsEnd = new RegExp(`(?:^|\\n)${marker}-rc certs \\d+\\n`, 'u');
    const sectionStart = new RegExp(`(?:^|\\n)${marker} (\\S+)\\n`, 'gu');
    const tryEarly = () => {
      if (tried || !loaded || !certsDone) return;
      tried = true;
      const partial = loaded[1].observedFromSections(splitSections(marker, soFar, ''));
      const cfg = loaded[3].expectedFor(partial, opts.expect).expected?.config;
      const mgmt = cfg?.network.management.address?.address;
      if (cfg && mgmt) {
        early = probe(loaded, cfg, mgmt, partial);
        early.catch(() => undefined);
      }
    };
    const onStdout = (piece: string) => {
      const text = tail + piece;
      for (const m of text.matchAll(sectionStart)) section = m[1];
      if (!certsDone && !tried) {
        pieces.push(piece);
        piecesLength += piece.length;
        if (certsEnd.test(text)) {
          certsDone = true;
          soFar = pieces.join('');
          pieces = [];
          tryEarly();
        } else if (piecesLength > EARLY_MAX_CHARS) {
          // Far more than state.json and the certificates ever are: no early probe (the API is
          // probed after the collection), and no second copy of what the appliance sends.
          tried = true;
          pieces = [];
        }
      }
      tail = text.slice(-(marker.length + 80));
    };
    const collecting = runScript(connected.ssh, collectionScript(marker), opts.timeoutMs, {
      onStdout,
      where: () => (section === undefined ? undefined : `section ${section}${SECTION_READS[section] ? `: ${SECTION_READS[section]}` : ''}`),
    });
    // Loaded while the appliance runs the script (not during the handshake, which needs this thread).
    const modules = loadLater();
    modules.then(
      (x) => {
        loaded = x;
        tryEarly();
      },
      () => undefined,
    );
    const res = await collecting;
    const tCollect = performance.now();
    const m = await modules;
    const [{ runChecks }, { observedFromSections }, , { expectedFor }] = m;
    const sections = splitSections(marker, res.stdout, res.stderr);
    if (!sections.meta) {
      throw new HostError(
        'collect',
        `the collection script printed nothing usable (exit ${res.code ?? 'unknown'}${res.stderr.trim() ? `: ${res.stderr.trim().split('\n')[0]}` : ''})`,
        'the login shell must run /bin/sh; check that the account is not restricted (ForceCommand, nologin)',
      );
    }
    const observed = observedFromSections(sections);
    const exp = expectedFor(observed, opts.expect);
    const now = opts.now?.() ?? new Date();

    // The Data Plane API, as its clients reach it (a DHCP management address is known only now).
    const cfg = exp.expected?.config;
    const mgmt = cfg?.network.management.address?.address ?? observed.interfaces?.find((i) => i.name === 'management')?.ipv4[0]?.split('/')[0];
    const api: ApiProbe | undefined = early ? await early : cfg && mgmt ? await probe(m, cfg, mgmt, observed) : undefined;
    const effectiveUser = apiUser ?? cfg?.loadbalance.haproxyUser;
    const checks = runChecks(
      { observed, ...exp, ...(api && { api }), ...(effectiveUser && apiPassword !== undefined && { apiUser: effectiveUser }), now },
      port,
    );
    const versions: Record<string, string> = {};
    if (observed.haproxyVersion) versions.haproxy = observed.haproxyVersion;
    if (api?.info?.version) versions.dataplaneapi = api.info.version;
    return {
      ...base,
      checks,
      ...(exp.expected && { expected: exp.expected.source }),
      methods: { ...(observed.listenerTool && { listeners: observed.listenerTool }), ...(observed.serviceMethod && { services: observed.serviceMethod }) },
      timings: { connectMs: tConnect - t0, collectMs: tCollect - tConnect, totalMs: performance.now() - t0 },
      ...(Object.keys(versions).length && { versions }),
      ...(connected.recorded && { recordedHostKey: connected.recorded }),
    };
  } catch (err) {
    const e = err instanceof HostError ? err : new HostError('collect', (err as Error).message);
    return {
      ...base,
      error: { kind: e.kind, message: e.message, ...(e.remedy && { remedy: e.remedy }) },
      timings: { totalMs: performance.now() - t0 },
    };
  } finally {
    connected?.ssh.dispose();
  }
}

/**
 * Whether `verify --wait` tries a host again: a check failed, or the host could not be reached
 * (nothing answers yet, the connection is refused, SSH is not up) or the collection failed. An
 * authentication failure, a refused host key or a usage error is final: another attempt cannot
 * change it, repeated logins with a wrong credential count towards sshd's MaxAuthTries and
 * fail2ban-style lockouts, and a host key that changed is for a human to look at.
 */
export function retryable(report: HostReport): boolean {
  if (report.error) return report.error.kind === 'unreachable' || report.error.kind === 'collect';
  return report.checks.some((c) => c.status === 'fail');
}

/** One host under --wait: attempts until green, a final refusal, or the deadline (the last report, with how many attempts). */
async function verifyWaiting(spec: HostSpec, opts: VerifyOptions, index: number, total: number): Promise<HostReport> {
  const wait = opts.wait!;
  let recorded: string | undefined;
  for (let attempt = 1; ; attempt++) {
    const report = await verifyHost(spec, opts);
    recorded ??= report.recordedHostKey;
    const left = wait.deadline - performance.now();
    if (!retryable(report) || left <= 0) return { ...report, attempts: attempt, ...(recorded !== undefined && { recordedHostKey: recorded }) };
    opts.onProgress?.({ kind: 'retry', name: spec.name, index, total, report, attempt, leftMs: left });
    await new Promise((resolve) => setTimeout(resolve, Math.min(wait.intervalMs, left)));
  }
}

export async function verifyFleet(specs: HostSpec[], opts: VerifyOptions): Promise<FleetReport> {
  const t0 = performance.now();
  const reports: HostReport[] = new Array<HostReport>(specs.length);
  let next = 0;
  let finished = 0;
  const worker = async () => {
    while (next < specs.length) {
      const index = next++;
      const spec = specs[index]!;
      opts.onProgress?.({ kind: 'start', name: spec.name, index, total: specs.length });
      const report = opts.wait ? await verifyWaiting(spec, opts, index, specs.length) : await verifyHost(spec, opts);
      reports[index] = report;
      finished++;
      opts.onProgress?.({ kind: 'done', name: spec.name, index, total: specs.length, report, finished });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, specs.length)) }, worker));
  return { hosts: reports, exitCode: exitCodeOf(reports), totalMs: performance.now() - t0 };
}
