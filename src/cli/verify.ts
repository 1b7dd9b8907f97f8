/**
 * `haproxy-appliance verify HOST... [options]`: checks running appliances over SSH. Reads the
 * options, the inventory, the known_hosts files and the credentials (a password only from the
 * environment variable named by --password-env, never from argv), runs the fleet and prints
 * the report. Exit: 0 every check passed (warnings allowed), 1 a check failed, 2 usage or a
 * host that could not be reached, authenticated or trusted.
 */
import { open, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError, EXIT, inputError } from '../errors.js';
import type { Values } from './command.js';
import type { Problem } from '../problems.js';
import { MAX_HOSTS, parseHostSpec, parseInventory, type HostSpec } from '../verify/inventory.js';
import { readKnownHosts } from '../verify/known-hosts.js';
import type { SshCredentials } from '../verify/ssh.js';
import type { ProgressEvent, VerifyOptions } from '../verify/run.js';
import {
  counts,
  displaySafe,
  MAX_FIELD_CHARS,
  NAGIOS_EXIT,
  nagiosState,
  renderJson,
  renderJunit,
  renderNagios,
  renderText,
  useColor,
} from '../verify/report.js';
import type { HostReport } from '../verify/types.js';
import { preconnect, type Preconnected } from '../verify/tcp.js';

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function intOption(values: Values, name: string, def: number, min: number, max: number): number {
  const v = str(values[name]);
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\d+$/u.test(v) || n < min || n > max) throw inputError(`--${name}`, 'not-number', `${JSON.stringify(v)} is not a whole number from ${min} to ${max}`);
  return n;
}

/** The value of the environment variable named by an option; never echoed anywhere. */
function secretFromEnv(values: Values, option: string, env: NodeJS.ProcessEnv): string | undefined {
  const name = str(values[option]);
  if (name === undefined) return undefined;
  // The value is not echoed: it may be a password given here by mistake.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/u.test(name))
    throw inputError(`--${option}`, 'not-env-name', 'expects the NAME of an environment variable (letters, digits and _), not the password itself');
  const value = env[name];
  if (value === undefined || value === '') throw inputError(`--${option}`, 'env-unset', `environment variable ${name} is not set`);
  return value;
}

async function loadExpect(file: string): Promise<NonNullable<VerifyOptions['expect']> & { apiUser: string; apiPassword: string }> {
  // Loaded only for --expect: zod, xmldom and execa cost ~150 ms of start-up.
  const [{ ingest }, { validateEnvironment }, { publicConfig }] = await Promise.all([
    import('../ingest/read.js'),
    import('../config/validate.js'),
    import('../appliance/state.js'),
  ]);
  let config;
  try {
    ({ config } = validateEnvironment((await ingest({ file })).env));
  } catch (err) {
    // A file that is not there says so as it is; a document with problems lists them under --expect.
    if (!(err instanceof InputError) || err.problems[0].code === 'no-environment') throw err;
    const n = err.problems.length;
    throw new InputError(`--expect ${file}: the OVF environment has ${n} problem${n === 1 ? '' : 's'}`, err.problems, err.warnings);
  }
  return { file, config: publicConfig(config), apiUser: config.loadbalance.haproxyUser, apiPassword: config.loadbalance.haproxyPassword };
}

/** An inventory of MAX_HOSTS hosts with a few variables each is about 1 MB; 16 MiB is plenty. */
export const MAX_INVENTORY_BYTES = 16 * 1024 * 1024;

/**
 * Reads at most `max` bytes of a file (a FIFO or `<(command)` too), refusing a longer one
 * without reading it all (`/dev/zero` would never end), and text that is not UTF-8.
 */
async function readInventory(file: string, max = MAX_INVENTORY_BYTES): Promise<string> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw inputError(`--inventory ${file}`, 'unreadable', (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(1 << 20, max + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > max)
        throw inputError(`--inventory ${file}`, 'file-too-large', `larger than ${max / 1024 / 1024} MiB; an inventory holds at most ${MAX_HOSTS} hosts`);
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    } catch {
      throw inputError(`--inventory ${file}`, 'not-utf8', 'not UTF-8 text');
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw inputError(`--inventory ${file}`, 'unreadable', (err as Error).message);
  } finally {
    await fh.close();
  }
}

type Io = { env?: NodeJS.ProcessEnv; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream };

/**
 * Everything this command prints goes through `displaySafe` (src/verify/report.ts): the report
 * by its renderers, the progress lines here, and input errors (which quote inventory fields and
 * file names) on their way out, each cut at MAX_FIELD_CHARS.
 */
export async function verifyCommand(values: Values, positionals: string[], io: Io = {}): Promise<number> {
  try {
    return await verifyCommandUnsafe(values, positionals, io);
  } catch (err) {
    if (err instanceof InputError) {
      const safe = (t: string) => displaySafe(t, MAX_FIELD_CHARS);
      const safeProblem = (p: Problem): Problem => ({ ...p, at: safe(p.at), message: safe(p.message) });
      const [first, ...rest] = err.problems;
      throw new InputError(safe(err.message), [safeProblem(first), ...rest.map(safeProblem)], err.warnings.map(safeProblem));
    }
    throw err;
  }
}

async function verifyCommandUnsafe(values: Values, positionals: string[], io: Io): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;

  const specs: HostSpec[] = positionals.map((p) => parseHostSpec(p));
  const inventory = str(values.inventory);
  if (inventory !== undefined) {
    const inv = parseInventory(await readInventory(inventory), inventory);
    if (inv.hosts.length === 0) throw inputError(`--inventory ${inventory}`, 'empty-inventory', 'no hosts in it');
    // One by one: spreading a large array into push() overflows the call stack.
    for (const h of inv.hosts) specs.push(h);
  }
  if (specs.length === 0) {
    const message = 'no host given: name at least one HOST, or --inventory FILE';
    throw inputError('HOST', 'no-host', message, message);
  }
  const seen = new Set<string>();
  const unique = specs.filter((s) => {
    const key = `${s.user ?? ''}@${s.host}:${s.port ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length > MAX_HOSTS) {
    const message = `${unique.length} hosts given; verify at most ${MAX_HOSTS} at once (split the inventory)`;
    throw inputError('HOST', 'too-many-hosts', message, message);
  }

  const user = str(values.user) ?? 'root';
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/u.test(user)) throw inputError('--user', 'not-user-name', `${JSON.stringify(user)} is not a user name`);
  const port = intOption(values, 'port', 22, 1, 65535);
  const concurrency = intOption(values, 'concurrency', 10, 1, 1000);
  const timeoutMs = intOption(values, 'timeout', 15, 1, 3600) * 1000;
  const waitS = values.wait === undefined ? undefined : intOption(values, 'wait', 0, 0, 86_400);
  if (values.nagios === true) {
    // A plugin checks one service: one appliance (docs/operations.md); with --json, two outputs would mix.
    if (unique.length > 1) {
      const message = `checks one appliance (one service in Nagios, Icinga or Checkmk); ${unique.length} hosts were given`;
      throw inputError('--nagios', 'nagios-one-host', message, `--nagios ${message}`);
    }
    if (values.json === true)
      throw inputError('--nagios', 'bad-usage', 'prints the plugin output; it cannot be combined with --json', '--nagios cannot be combined with --json');
  }

  const password = secretFromEnv(values, 'password-env', env);
  const apiPassword = secretFromEnv(values, 'api-password-env', env);
  const identity = str(values.identity);
  if (str(values.expect) !== undefined && unique.length > 1) {
    const message = `describes one appliance; ${unique.length} hosts were given`;
    throw inputError('--expect', 'expect-one-host', message, `--expect ${message}`);
  }

  // Connect to the first hosts now: the TCP handshake and sshd's start-up overlap the loading of
  // the SSH library (tens of ms). Usage errors below close these sockets again.
  const pre = new Map<HostSpec, Preconnected>();
  for (const spec of unique.slice(0, concurrency)) pre.set(spec, preconnect(spec.host, spec.port ?? port, timeoutMs));
  try {
    return await verifyWith(values, unique, { env, stdout, stderr, port, concurrency, timeoutMs, waitS, user, identity, password, apiPassword, pre });
  } finally {
    for (const p of pre.values()) p.discard();
  }
}

interface Prepared {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  port: number;
  concurrency: number;
  timeoutMs: number;
  /** --wait SECONDS. */
  waitS: number | undefined;
  user: string;
  identity: string | undefined;
  password: string | undefined;
  apiPassword: string | undefined;
  pre: Map<HostSpec, Preconnected>;
}

async function verifyWith(values: Values, unique: HostSpec[], o: Prepared): Promise<number> {
  const { env, stdout, stderr, port, concurrency, timeoutMs, user, identity, password, apiPassword } = o;
  const [{ defaultKeys, HostError, loadKey }, { verifyFleet, WAIT_INTERVAL_MS }] = await Promise.all([import('../verify/ssh.js'), import('../verify/run.js')]);
  let credentials: SshCredentials;
  try {
    if (identity !== undefined) credentials = { keys: [await loadKey(identity)], ...(password !== undefined && { password }) };
    else if (password !== undefined) credentials = { keys: [], password };
    else credentials = { keys: await defaultKeys(), ...(env.SSH_AUTH_SOCK && { agent: env.SSH_AUTH_SOCK }) };
  } catch (err) {
    if (err instanceof HostError) throw inputError(identity !== undefined ? '--identity' : '~/.ssh', 'identity-unusable', err.message, err.message);
    throw err;
  }
  if (credentials.keys.length === 0 && !credentials.agent && credentials.password === undefined) {
    const message = 'no credentials: give --identity FILE or --password-env VAR, or run an ssh-agent, or have ~/.ssh/id_ed25519 (or id_ecdsa, id_rsa)';
    throw inputError('--identity', 'no-credentials', message, message);
  }

  const knownHostsOption = str(values['known-hosts']);
  const knownFiles = knownHostsOption !== undefined ? [knownHostsOption] : [join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
  let entries;
  try {
    entries = await readKnownHosts(knownFiles);
  } catch (err) {
    throw inputError(
      knownHostsOption !== undefined ? '--known-hosts' : 'known_hosts',
      'unreadable',
      (err as Error).message,
      `known_hosts: ${(err as Error).message}`,
    );
  }

  const bundleDir = str(values['support-bundle']);
  if (bundleDir !== undefined) {
    const bundleOpts = {
      user,
      port,
      credentials,
      hostKeys: { entries, acceptNew: values['accept-new'] === true, recordFile: knownHostsOption ?? knownFiles[0]! },
    };
    const pre = new Map([...o.pre].map(([spec, p]) => [spec, p.socket]));
    return (await import('./verify-support.js')).supportBundles(bundleDir, unique, { ...bundleOpts, concurrency, timeoutMs, preconnected: pre }, values, {
      stdout,
      stderr,
    });
  }

  const expectFile = str(values.expect);
  let expect: Awaited<ReturnType<typeof loadExpect>> | undefined;
  if (expectFile !== undefined) {
    expect = await loadExpect(expectFile);
  }
  const apiUser = str(values['api-user']);
  const api = {
    ...((apiUser ?? expect?.apiUser) !== undefined && { user: (apiUser ?? expect?.apiUser)! }),
    ...((apiPassword ?? expect?.apiPassword) !== undefined && { password: (apiPassword ?? expect?.apiPassword)! }),
  };

  const junit = str(values.junit);
  const json = values.json === true;
  const color = !json && useColor(stdout, env);
  const fleet = unique.length > 1;
  const nagios = values.nagios === true;
  // --wait: a line when a host is tried again and what it says changed (not one per attempt).
  const lastSaid = new Map<number, string>();
  const progress = (e: ProgressEvent) => {
    if (e.kind === 'retry' && !nagios) {
      const said = retryVerdict(e.report);
      if (lastSaid.get(e.index) === said) return;
      lastSaid.set(e.index, said);
      stderr.write(
        displaySafe(
          `${e.report.name}: ${said}; --wait: trying again every ${WAIT_INTERVAL_MS / 1000} s for up to ${Math.ceil(e.leftMs / 1000)} s more`,
          MAX_FIELD_CHARS,
        ) + '\n',
      );
      return;
    }
    if (!fleet || e.kind !== 'done') return;
    const h = e.report;
    const n = counts(h.checks);
    const verdict = h.error
      ? h.error.kind.toUpperCase()
      : n.fail
        ? `FAIL (${n.fail} failed, ${n.pass} passed)`
        : n.warn
          ? `PASS with ${n.warn} warning${n.warn === 1 ? '' : 's'}`
          : `PASS (${n.pass} checks)`;
    stderr.write(`[${e.finished}/${e.total}] ${displaySafe(h.name)}: ${displaySafe(verdict)} in ${(h.timings.totalMs / 1000).toFixed(2)} s\n`);
  };

  const report = await verifyFleet(unique, {
    ...(o.waitS !== undefined && { wait: { deadline: performance.now() + o.waitS * 1000, intervalMs: WAIT_INTERVAL_MS } }),
    user,
    port,
    credentials,
    hostKeys: { entries, acceptNew: values['accept-new'] === true, recordFile: knownHostsOption ?? knownFiles[0]! },
    ...(expect && { expect: { file: expect.file, config: expect.config } }),
    api,
    concurrency,
    timeoutMs,
    onProgress: progress,
    preconnected: new Map([...o.pre].map(([spec, p]) => [spec, p.socket])),
  });

  if (nagios) stdout.write(renderNagios(report.hosts[0]!));
  else if (json) stdout.write(renderJson(report));
  else stdout.write(renderText(report, { color, verbose: values.verbose === true }));
  if (junit !== undefined) {
    try {
      await writeFile(junit, renderJunit(report));
    } catch (err) {
      stderr.write(displaySafe(`haproxy-appliance verify: cannot write --junit ${junit}: ${(err as Error).message}`) + '\n');
      return nagios ? NAGIOS_EXIT.UNKNOWN : EXIT.input;
    }
  }
  return nagios ? NAGIOS_EXIT[nagiosState(report.hosts[0]!)] : report.exitCode;
}

/** What a host's last attempt said, for --wait's progress line: `UNREACHABLE: …`, `FAIL: 2 failed (service haproxy, …)`. */
function retryVerdict(h: HostReport): string {
  if (h.error) return `${h.error.kind.toUpperCase()}: ${h.error.message.split('\n')[0]!}`;
  const failed = h.checks.filter((c) => c.status === 'fail').map((c) => (c.subject ? `${c.id} ${c.subject}` : c.id));
  return `FAIL: ${failed.length} failed (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ', …' : ''})`;
}
