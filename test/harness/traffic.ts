/**
 * Real TCP traffic between the namespaces of a bed: a tiny node server (`listenIn`) and client
 * (`connectFrom`) run inside a namespace with `ip netns exec`; the reply names the addresses
 * each side saw. Used through `TestBed.listen` / `TestBed.connect` (test/harness/netns.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cleanNodeEnv, exited, terminate } from './process.js';

/** What the probes need of the bed that owns the namespace. */
export interface TrafficBed {
  nsName(ns: string): string;
  /** Tracks a long-running child, for the bed's cleanup. */
  track(child: ChildProcess): ChildProcess;
}

/** What the listener sends back to every client (one JSON line), and records per connection. */
export interface ConnInfo {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface ListenHandle {
  readonly pid: number;
  readonly ns: string;
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far (as seen by the server). */
  readonly connections: ConnInfo[];
  close(): Promise<void>;
}

export interface ConnectResult {
  ok: boolean;
  /** Error code/message when !ok (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...). */
  error?: string;
  /** Addresses of the client socket. */
  localAddress?: string;
  localPort?: number;
  /** What the server said about the connection (addresses as seen by the server). */
  reply?: ConnInfo;
}

/** Server run by `ip netns exec NS node -e`: argv = host port maxLifetimeMs. */
const LISTEN_SCRIPT = `
const net = require('node:net');
const [host, port, maxMs] = process.argv.slice(1);
const server = net.createServer((s) => {
  const info = { localAddress: s.localAddress, localPort: s.localPort, remoteAddress: s.remoteAddress, remotePort: s.remotePort };
  process.stdout.write('CONN ' + JSON.stringify(info) + '\\n');
  s.on('error', () => {});
  s.end(JSON.stringify(info) + '\\n');
});
server.on('error', (e) => { process.stderr.write('LISTEN-ERROR ' + (e.code || e.message) + '\\n'); process.exit(2); });
server.listen({ host, port: Number(port), exclusive: true }, () => process.stdout.write('READY\\n'));
// Bounded life: exits with its parent (stdin closes) or after maxMs at the latest.
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
setTimeout(() => process.exit(0), Number(maxMs)).unref();
`;

/** Client run by `ip netns exec NS node -e`: argv = host port timeoutMs [localAddress]. */
const CONNECT_SCRIPT = `
const net = require('node:net');
const [host, port, timeoutMs, localAddress] = process.argv.slice(1);
const done = (r) => { process.stdout.write(JSON.stringify(r) + '\\n'); process.exit(0); };
const timer = setTimeout(() => { done({ ok: false, error: 'ETIMEDOUT' }); }, Number(timeoutMs));
const opts = { host, port: Number(port) };
if (localAddress) opts.localAddress = localAddress;
const s = net.connect(opts);
let data = '', local = {};
s.on('connect', () => { local = { localAddress: s.localAddress, localPort: s.localPort }; });
s.on('data', (d) => { data += d; });
s.on('error', (e) => { clearTimeout(timer); done({ ok: false, error: e.code || e.message }); });
s.on('end', () => {
  clearTimeout(timer);
  try { done({ ok: true, ...local, reply: JSON.parse(data) }); }
  catch { done({ ok: false, ...local, error: 'bad reply: ' + data.slice(0, 200) }); }
});
`;

/**
 * Starts a TCP server inside `ns` bound to host:port (a node process in the namespace).
 * Resolves once it listens; rejects with the bind error otherwise (e.g. EADDRNOTAVAIL).
 * Every client gets one JSON line describing the connection, then EOF.
 */
export async function listenIn(
  bed: TrafficBed,
  ns: string,
  host: string,
  port: number,
  opts: { timeoutMs?: number; maxLifetimeMs?: number } = {},
): Promise<ListenHandle> {
  const child = bed.track(
    spawn('ip', ['netns', 'exec', bed.nsName(ns), process.execPath, '-e', LISTEN_SCRIPT, host, String(port), String(opts.maxLifetimeMs ?? 300_000)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: cleanNodeEnv(),
    }),
  );
  const connections: ConnInfo[] = [];
  let stderr = '';
  let buf = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listen ${host}:${port} in '${ns}': no READY within timeout\n${stderr}`)), opts.timeoutMs ?? 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'READY') {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith('CONN ')) connections.push(JSON.parse(line.slice(5)) as ConnInfo);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`listen ${host}:${port} in '${ns}' failed (exit ${code}): ${stderr.trim()}`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  const handle: ListenHandle = {
    pid: child.pid ?? -1,
    ns,
    host,
    port,
    connections,
    close: async () => {
      child.stdin?.end();
      await terminate(child);
    },
  };
  try {
    await ready;
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}

/**
 * Connects from inside `ns` to host:port (a node process in the namespace), reads the
 * listener's reply and reports. Network errors are returned (`ok: false`), not thrown,
 * so negative checks are easy; bounded by `timeoutMs` (default 5 s).
 */
export async function connectFrom(
  bed: TrafficBed,
  ns: string,
  host: string,
  port: number,
  opts: { timeoutMs?: number; localAddress?: string } = {},
): Promise<ConnectResult> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const argv = [process.execPath, '-e', CONNECT_SCRIPT, host, String(port), String(timeoutMs)];
  if (opts.localAddress) argv.push(opts.localAddress);
  const child = bed.track(spawn('ip', ['netns', 'exec', bed.nsName(ns), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanNodeEnv() }));
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const hardStop = setTimeout(() => void terminate(child, 500), timeoutMs + 5_000);
  try {
    await exited(child);
  } finally {
    clearTimeout(hardStop);
  }
  const line = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ConnectResult;
  } catch {
    throw new Error(`connect helper in '${ns}' gave no result (exit ${child.exitCode}): ${err.trim() || out.trim()}`);
  }
}
