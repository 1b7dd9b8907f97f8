/**
 * What the support bundle collects, and how: an allow-list of files (each read bounded, a
 * regular file only, confined under `--root`), read-only commands (execa through
 * src/util/run.ts: no shell, a timeout each), the journals of the appliance's units (the last N
 * lines of this boot and the previous one), and system facts from systeminformation (each call
 * bounded). Every item degrades on its own: a missing tool, a failed command or an unreadable
 * file is recorded (exit code, stderr, reason) and the bundle still completes.
 *
 * Never read (not even to redact): the private keys, the root password's crypt, /etc/shadow, the
 * backups and the PKI work folder (NEVER_READ). Files that hold a secret the appliance needs in
 * them (haproxy.cfg, dataplaneapi.yaml) are read and redacted structurally (src/support/redact.ts).
 */
import { X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  BACKUP_DIR,
  DATAPLANEAPI_UNIT,
  DATAPLANEAPI_YAML,
  HAPROXY_CFG,
  JOURNAL_FILE,
  NETWORK_PATHS,
  NETWORKD_DIR,
  PKI_PATHS,
  PKI_WORK_DIR,
  ROOT_PASSWORD_MARKER,
  SECRET_PATHS,
  SSHD_DROPIN,
  STATE_FILE,
} from '../appliance/paths.js';
import { AGENT_DEFAULTS_FILE } from '../config/agent-defaults.js';
import { confinedPath } from '../util/root.js';
import { failureCause, run } from '../util/run.js';
import { binary, capBytes, lastLines, redactHaproxyCfg, redactNetworkd, redactYamlSecrets, type Redacted } from './redact.js';

/** How a file known to hold a secret is redacted before anything else. */
export type Redactor = 'haproxy' | 'yaml' | 'networkd';

const REDACTORS: Record<Redactor, (text: string) => Redacted> = {
  haproxy: redactHaproxyCfg,
  yaml: redactYamlSecrets,
  networkd: redactNetworkd,
};

/** Paths never opened by the support command, not even to redact them; a folder's whole tree (and see mayRead). */
export const NEVER_READ: readonly string[] = [
  PKI_PATHS.caKey,
  PKI_PATHS.serverKey,
  ROOT_PASSWORD_MARKER,
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/shadow-',
  '/etc/gshadow-',
  BACKUP_DIR,
  PKI_WORK_DIR,
];

/** The files of the secret registry (src/appliance/paths.ts) that are collected, and the redactor that makes them safe. */
export const STRUCTURAL: Readonly<Record<string, Redactor>> = { [HAPROXY_CFG]: 'haproxy', [DATAPLANEAPI_YAML]: 'yaml' };

/** May the support command open this path? Never a NEVER_READ path (or below one), nor any `*.key` or shadow file. */
export function mayRead(path: string): boolean {
  if (NEVER_READ.some((n) => path === n || path.startsWith(`${n}/`))) return false;
  // ca.key, server.key, the SSH host keys (ssh_host_ed25519_key), any shadow file.
  if (/[._]key$|shadow/u.test(basename(path))) return false;
  // A secret file of the registry only with its redactor.
  if (SECRET_PATHS.includes(path) && !(path in STRUCTURAL)) return false;
  return true;
}

export interface FileSpec {
  path: string;
  redact?: Redactor;
}

/** The files collected, in the bundle's order. */
export const FILES: readonly FileSpec[] = [
  { path: STATE_FILE },
  { path: JOURNAL_FILE },
  { path: AGENT_DEFAULTS_FILE },
  { path: HAPROXY_CFG, redact: 'haproxy' },
  { path: DATAPLANEAPI_YAML, redact: 'yaml' },
  { path: DATAPLANEAPI_UNIT },
  { path: SSHD_DROPIN },
  { path: NETWORK_PATHS.hostname },
  { path: NETWORK_PATHS.hosts },
  { path: NETWORK_PATHS.rtTables },
  { path: NETWORK_PATHS.timesyncd },
  { path: NETWORK_PATHS.resolved },
  { path: '/etc/resolv.conf' },
  { path: PKI_PATHS.caCert },
  { path: PKI_PATHS.serverCert },
  { path: PKI_PATHS.trustStore },
  { path: '/etc/systemd/system/haproxy-appliance.service' },
  { path: '/etc/systemd/system/haproxy-appliance-trust-store.service' },
  { path: '/etc/systemd/system/haproxy-appliance-host-keys.service' },
];

/** Folders whose regular files are all collected (the networkd files, the agent's drop-ins). */
export const DIRS: readonly FileSpec[] = [
  { path: NETWORKD_DIR, redact: 'networkd' },
  { path: '/etc/systemd/system/haproxy.service.d' },
  { path: '/etc/systemd/system/ssh.service.d' },
];

/** The journals: a name, and the units it holds (sshd is ssh.service on Debian, sshd.service elsewhere). */
export const JOURNALS: readonly { name: string; units: string[] }[] = [
  { name: 'haproxy-appliance', units: ['haproxy-appliance.service', 'haproxy-appliance-trust-store.service', 'haproxy-appliance-host-keys.service'] },
  { name: 'haproxy', units: ['haproxy.service'] },
  { name: 'dataplaneapi', units: ['dataplaneapi.service'] },
  { name: 'systemd-networkd', units: ['systemd-networkd.service'] },
  { name: 'sshd', units: ['ssh.service', 'sshd.service'] },
];

/** The read-only commands run (on the machine the command runs on, under --root too, but those marked `live`). */
export const COMMANDS: readonly { name: string; argv: string[]; live?: boolean; timeoutMs?: number; okExit?: Record<number, string>; whenActive?: string }[] = [
  { name: 'ip-addr', argv: ['ip', '-d', 'addr'] },
  { name: 'ip-link', argv: ['ip', '-d', 'link'] },
  { name: 'ip-route', argv: ['ip', 'route', 'show', 'table', 'all'] },
  { name: 'ip-6-route', argv: ['ip', '-6', 'route', 'show', 'table', 'all'] },
  { name: 'ip-rule', argv: ['ip', 'rule'] },
  { name: 'ss-ltnp', argv: ['ss', '-ltnp'] },
  { name: 'networkctl-status', argv: ['networkctl', '--no-pager', 'status', '-a'] },
  { name: 'resolvectl-status', argv: ['resolvectl', '--no-pager', 'status'] },
  // These ask systemd-timesyncd over D-Bus; where it does not run (in a container, or disabled)
  // the call waits for a bus activation that does not come: run only when it is active, with a
  // short bound of their own, beside the others rather than in turn.
  { name: 'timedatectl-timesync-status', argv: ['timedatectl', '--no-pager', 'timesync-status'], timeoutMs: 2000, whenActive: 'systemd-timesyncd.service' },
  { name: 'timedatectl-show-timesync', argv: ['timedatectl', '--no-pager', 'show-timesync'], timeoutMs: 2000, whenActive: 'systemd-timesyncd.service' },
  { name: 'timedatectl-status', argv: ['timedatectl', '--no-pager', 'status'] },
  { name: 'systemctl-failed', argv: ['systemctl', '--no-pager', '--failed'] },
  {
    name: 'systemctl-status',
    argv: [
      'systemctl',
      '--no-pager',
      '--lines=0',
      'status',
      'haproxy-appliance.service',
      'haproxy.service',
      'dataplaneapi.service',
      'systemd-networkd.service',
      'ssh.service',
    ],
    // systemctl status says 3 when a unit is not running: what it prints is the point.
    okExit: { 3: 'a unit is not running' },
  },
  { name: 'haproxy-vv', argv: ['haproxy', '-vv'] },
  // haproxy -c parses the configuration, which may load Lua code: never on a --root image's file.
  { name: 'haproxy-c', argv: ['haproxy', '-c', '-f', HAPROXY_CFG], live: true },
];

export interface Limits {
  /** Lines kept of each journal (the last ones). */
  journalLines: number;
  /** Bytes kept of one member. */
  maxFileBytes: number;
  /** Bytes of all members together (summary.txt aside). */
  maxTotalBytes: number;
  /** Each command's timeout. */
  commandTimeoutMs: number;
  /** Each systeminformation call's bound. */
  factsTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  journalLines: 2000,
  maxFileBytes: 8 * 1024 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
  commandTimeoutMs: 5000,
  factsTimeoutMs: 4000,
};

/** One member of the bundle, before the last pass. */
export interface Item {
  /** Its name in the archive (a bare file name). */
  name: string;
  /** Its content, a binary string (src/support/redact.ts). */
  text: string;
  /** Where it came from: a path, a command line, a journal. */
  source: string;
  /** What was cut, failed or left out, one sentence each. */
  notes: string[];
  /** Values or blocks removed from it so far. */
  removed: number;
}

/** A bare, tar-safe member name for a path or a command. */
export function memberName(prefix: string, what: string): string {
  return `${prefix}${what.replace(/^\/+/u, '').replace(/[^A-Za-z0-9._-]+/gu, '_')}`.slice(0, 100);
}

async function readBounded(file: string, max: number): Promise<{ data: Buffer; size: number } | { missing: true } | { refused: string }> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { missing: true };
    return { refused: code === 'EACCES' ? 'permission denied' : (err as Error).message };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { refused: 'not a regular file' };
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { data: buf.subarray(0, got), size: Math.max(st.size, got) };
  } finally {
    await fh.close();
  }
}

/** Where an appliance path is read: itself, or confined under --root. */
async function hostPath(root: string | undefined, path: string): Promise<string> {
  return root === undefined ? path : confinedPath(root, path);
}

async function collectFile(spec: FileSpec, root: string | undefined, limits: Limits, prefix = 'file_'): Promise<Item | undefined> {
  const name = memberName(prefix, spec.path);
  if (!mayRead(spec.path)) return undefined;
  let file;
  try {
    file = await hostPath(root, spec.path);
  } catch (err) {
    return { name, text: '', source: spec.path, notes: [`${spec.path}: not read: ${(err as Error).message}`], removed: 0 };
  }
  const r = await readBounded(file, limits.maxFileBytes);
  if ('missing' in r) return undefined;
  if ('refused' in r) return { name, text: '', source: spec.path, notes: [`${spec.path}: not read: ${r.refused}`], removed: 0 };
  let text = r.data.toString('latin1');
  const notes: string[] = [];
  if (r.data.length > limits.maxFileBytes) {
    text = capBytes(text, limits.maxFileBytes, 'head').text;
    notes.push(`${spec.path}: cut to its first ${text.length} of ${r.size} bytes (the per-file cap)`);
  }
  let removed = 0;
  if (spec.redact) {
    const red = REDACTORS[spec.redact](text);
    text = red.text;
    removed += red.count;
  }
  return { name, text, source: spec.path, notes, removed };
}

async function collectDir(spec: FileSpec, root: string | undefined, limits: Limits): Promise<Item[]> {
  if (!mayRead(spec.path)) return [];
  let names: string[];
  try {
    const dir = await hostPath(root, spec.path);
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && /^[A-Za-z0-9._@-]+$/u.test(e.name)).map((e) => e.name);
  } catch {
    return [];
  }
  const items = await Promise.all(names.sort().map((n) => collectFile({ ...spec, path: `${spec.path}/${n}` }, root, limits)));
  return items.filter((i): i is Item => i !== undefined);
}

function commandText(
  argv: readonly string[],
  r: Awaited<ReturnType<typeof run>>,
  ms: number,
  okExit: Record<number, string> = {},
): { text: string; note?: string } {
  const line = argv.join(' ');
  if (r.notFound) return { text: `$ ${line}\n# not run: ${argv[0]} is not installed\n`, note: `${line}: not run: ${argv[0]} is not installed` };
  const out = r.stdoutBytes ? Buffer.from(r.stdoutBytes).toString('latin1') : binary(r.stdout);
  const meaning = r.exitCode !== undefined && !r.timedOut ? okExit[r.exitCode] : undefined;
  const ok = (r.exitCode === 0 || meaning !== undefined) && !r.timedOut;
  const head = `$ ${line}\n# ${ok ? `exit ${r.exitCode}${meaning ? ` (${meaning})` : ''}` : failureCause(r)}, ${Math.round(ms)} ms\n`;
  const err = r.stderr.trim() ? `\n# stderr:\n${binary(r.stderr)}${r.stderr.endsWith('\n') ? '' : '\n'}` : '';
  const firstErr = r.stderr.trim().split('\n').at(-1);
  return { text: `${head}${out}${err}`, ...(!ok && { note: `${line}: ${failureCause(r)}${firstErr ? ` (${firstErr.slice(0, 200)})` : ''}` }) };
}

async function collectCommand(c: (typeof COMMANDS)[number], limits: Limits, root: string | undefined): Promise<Item> {
  const name = memberName('cmd_', c.name) + '.txt';
  if (c.live && root !== undefined)
    return {
      name,
      text: `$ ${c.argv.join(' ')}\n# not run under --root\n`,
      source: c.argv.join(' '),
      notes: [`${c.argv.join(' ')}: not run under --root (it would parse the image's file)`],
      removed: 0,
    };
  if (c.whenActive !== undefined) {
    const state = (await run(['systemctl', 'is-active', c.whenActive], { timeoutMs: 2000 })).stdout.trim() || 'unknown';
    if (state !== 'active') {
      const why = `not run: ${c.whenActive} is ${state} (systemctl is-active)`;
      return { name, text: `$ ${c.argv.join(' ')}\n# ${why}\n`, source: c.argv.join(' '), notes: [`${c.argv.join(' ')}: ${why}`], removed: 0 };
    }
  }
  const t0 = performance.now();
  const r = await run(c.argv, { timeoutMs: Math.min(c.timeoutMs ?? Infinity, limits.commandTimeoutMs), bytes: { max: limits.maxFileBytes } });
  const { text, note } = commandText(c.argv, r, performance.now() - t0, c.okExit);
  const notes = note ? [note] : [];
  if (r.overflow) notes.push(`${c.argv.join(' ')}: its output passed ${limits.maxFileBytes} bytes and was cut`);
  return { name, text, source: c.argv.join(' '), notes, removed: 0 };
}

async function collectJournal(j: (typeof JOURNALS)[number], boot: 0 | -1, limits: Limits): Promise<Item> {
  const argv = [
    'journalctl',
    '-b',
    String(boot),
    ...j.units.flatMap((u) => ['-u', u]),
    '--no-pager',
    '-o',
    'short-iso-precise',
    '-n',
    String(limits.journalLines + 1),
  ];
  const name = `journal_${j.name}_boot${boot === 0 ? '0' : '-1'}.txt`;
  const t0 = performance.now();
  const r = await run(argv, { timeoutMs: limits.commandTimeoutMs, bytes: { max: limits.maxFileBytes } });
  const ms = performance.now() - t0;
  if (r.notFound || r.exitCode !== 0 || r.timedOut) {
    const { text, note } = commandText(argv, r, ms);
    return { name, text, source: argv.join(' '), notes: note ? [note] : [], removed: 0 };
  }
  const raw = Buffer.from(r.stdoutBytes ?? new Uint8Array()).toString('latin1');
  const kept = lastLines(r.overflow ? capBytes(raw, limits.maxFileBytes, 'tail').text : raw, limits.journalLines);
  const notes: string[] = [];
  const head = [`# ${argv.join(' ')}`, `# exit 0, ${Math.round(ms)} ms`];
  if (kept.cut || r.overflow) {
    const note = `${j.units.join(', ')} (boot ${boot}): cut to the last ${limits.journalLines} lines`;
    head.push(`# ${note}`);
    notes.push(note);
  }
  return { name, text: `${head.join('\n')}\n${kept.text}`, source: argv.join(' '), notes, removed: 0 };
}

/** A promise bounded in time: its value, or `undefined` and a note once `ms` have passed. */
function bounded<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ error: string }>((resolve) => {
    timer = setTimeout(() => resolve({ error: `no answer within ${ms} ms` }), ms);
    timer.unref();
  });
  return Promise.race([
    p.then(
      (value) => ({ value }),
      (err: unknown) => ({ error: (err as Error).message ?? String(err) }),
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}

/**
 * System facts from systeminformation: the calls that answer in tens of milliseconds on the
 * appliance (no `versions()`, `processes()` or `services()`: seconds), run at once, each bounded.
 * NIC drivers come from /sys/class/net (systeminformation does not give them).
 */
async function collectFacts(limits: Limits): Promise<Item> {
  const t0 = performance.now();
  const notes: string[] = [];
  const facts: Record<string, unknown> = {};
  let si: typeof import('systeminformation');
  try {
    si = (await import('systeminformation')).default;
  } catch (err) {
    return { name: 'system.json', text: '{}\n', source: 'systeminformation', notes: [`systeminformation: not loaded: ${(err as Error).message}`], removed: 0 };
  }
  const calls: Record<string, () => Promise<unknown>> = {
    os: () => si.osInfo(),
    cpu: () => si.cpu(),
    memory: () => si.mem(),
    system: () => si.system(),
    time: () => Promise.resolve(si.time()),
    disks: () => si.diskLayout(),
    blockDevices: () => si.blockDevices(),
    filesystems: () => si.fsSize(),
    nics: () => si.networkInterfaces(),
  };
  const results = await Promise.all(Object.entries(calls).map(async ([key, call]) => [key, await bounded(call(), limits.factsTimeoutMs)] as const));
  for (const [key, r] of results) {
    if ('value' in r) facts[key] = r.value;
    else {
      facts[key] = { error: r.error };
      notes.push(`system facts: ${key}: ${r.error}`);
    }
  }
  // The driver of each NIC (/sys/class/net/NAME/device/driver -> .../drivers/vmxnet3).
  if (Array.isArray(facts.nics)) {
    facts.nics = await Promise.all(
      (facts.nics as { iface?: string }[]).map(async (n) => {
        if (typeof n.iface !== 'string' || !/^[A-Za-z0-9._@-]+$/u.test(n.iface)) return n;
        const driver = await readlink(join('/sys/class/net', n.iface, 'device', 'driver')).then(
          (l) => basename(l),
          () => undefined,
        );
        return { ...n, driver: driver ?? null };
      }),
    );
  }
  const time = facts.time as { uptime?: number } | undefined;
  const system = facts.system as { virtual?: boolean; virtualHost?: string; manufacturer?: string; model?: string } | undefined;
  facts.summary = {
    uptimeSeconds: time?.uptime,
    virtualization: system ? { virtual: system.virtual, host: system.virtualHost, manufacturer: system.manufacturer, model: system.model } : undefined,
  };
  facts.collectedMs = Math.round(performance.now() - t0);
  return { name: 'system.json', text: binary(`${JSON.stringify(facts, null, 2)}\n`), source: 'systeminformation', notes, removed: 0 };
}

/**
 * certificates.txt: each certificate collected, as read by node's X509Certificate: subject,
 * issuer, validity (a server certificate made before the clock was set shows here), SANs, CA
 * flag, SHA-256 fingerprint. Public parts only.
 */
export function certificateFacts(items: readonly Item[]): Item | undefined {
  const lines: string[] = [];
  for (const i of items) {
    if (!/\.crt$/u.test(i.source)) continue;
    const pems =
      Buffer.from(i.text, 'latin1')
        .toString('utf8')
        .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/gu) ?? [];
    for (const pem of pems) {
      lines.push(i.source);
      try {
        const c = new X509Certificate(pem);
        lines.push(
          `  subject:     ${c.subject.split('\n').join(', ')}`,
          `  issuer:      ${c.issuer.split('\n').join(', ')}`,
          `  not before:  ${c.validFrom}`,
          `  not after:   ${c.validTo}`,
          `  SANs:        ${c.subjectAltName ?? '(none)'}`,
          `  CA:          ${c.ca}`,
          `  SHA-256:     ${c.fingerprint256}`,
        );
      } catch (err) {
        lines.push(`  unreadable: ${(err as Error).message}`);
      }
    }
  }
  return lines.length ? { name: 'certificates.txt', text: binary(`${lines.join('\n')}\n`), source: 'the .crt files above', notes: [], removed: 0 } : undefined;
}

/** Runs `tasks` at most `limit` at a time, keeping their order. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

/** Everything the bundle holds but summary.txt and the OVF environment's listing, in order. */
export async function collectItems(opts: { root?: string; limits: Limits }): Promise<Item[]> {
  const { root, limits } = opts;
  const facts = collectFacts(limits);
  const files = Promise.all([...FILES.map((f) => collectFile(f, root, limits)), ...DIRS.map((d) => collectDir(d, root, limits))]);
  const aside = new Map(COMMANDS.filter((c) => c.timeoutMs !== undefined).map((c) => [c, collectCommand(c, limits, root)]));
  const commands = pool<Item>(
    [
      ...COMMANDS.map((c) => () => aside.get(c) ?? collectCommand(c, limits, root)),
      ...JOURNALS.flatMap((j) => [() => collectJournal(j, 0, limits), () => collectJournal(j, -1, limits)]),
    ],
    4,
  );
  const [f, c, s] = await Promise.all([files, commands, facts]);
  const items = f.flat().filter((i): i is Item => i !== undefined);
  const certs = certificateFacts(items);
  return [s, ...(certs ? [certs] : []), ...items, ...c];
}
