/**
 * A client that keeps connecting to a VIP from inside a namespace and counts the outcomes (which
 * backend answered, which errors): what shows whether a reload or a rerun dropped a connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { exited, signal } from './process.js';

/** A client that keeps connecting to a VIP and counts the outcomes (run inside a namespace). */
const CLIENT_LOOP_SCRIPT = `
const net = require('node:net');
const [host, port, gapMs] = process.argv.slice(1);
let stop = false, ok = 0, first = 0, last = 0;
const errors = {}, backends = {};
process.stdin.on('end', () => { stop = true; }); process.stdin.resume();
const one = () => new Promise((resolve) => {
  const s = net.connect({ host, port: Number(port) });
  let data = '';
  const t = setTimeout(() => { s.destroy(); resolve({ error: 'ETIMEDOUT' }); }, 5000);
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => { clearTimeout(t); resolve({ error: e.code || e.message }); });
  s.on('end', () => {
    clearTimeout(t);
    try { resolve({ backend: JSON.parse(data).localAddress }); } catch { resolve({ error: data ? 'BAD-REPLY' : 'CLOSED-WITHOUT-REPLY' }); }
  });
});
(async () => {
  first = Date.now();
  while (!stop) {
    const r = await one();
    if (r.error) errors[r.error] = (errors[r.error] || 0) + 1;
    else { ok++; backends[r.backend] = (backends[r.backend] || 0) + 1; process.stdout.write('.'); }
    await new Promise((r) => setTimeout(r, Number(gapMs)));
  }
  last = Date.now();
  process.stdout.write('\\nRESULT ' + JSON.stringify({ ok, errors, backends, ms: last - first }) + '\\n');
  process.exit(0);
})();
`;

export interface ClientLoopResult {
  ok: number;
  errors: Record<string, number>;
  backends: Record<string, number>;
  ms: number;
}

export interface ClientLoop {
  /** Successful connections so far. */
  successes(): number;
  stop(): Promise<ClientLoopResult>;
}

/** A probe script run by node in the namespace `nsFull` with host, port and gap; its output as it comes. */
function spawnProbe(script: string, nsFull: string, host: string, port: number, gapMs: number, env: NodeJS.ProcessEnv, track: (child: ChildProcess) => void) {
  const child = spawn('ip', ['netns', 'exec', nsFull, process.execPath, '-e', script, host, String(port), String(gapMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  track(child);
  const io = { out: '', err: '' };
  child.stdout.on('data', (d: Buffer) => (io.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (io.err += d.toString()));
  return { child, io, done: exited(child) };
}

/**
 * Starts the loop in the namespace `nsFull` (its full name) against host:port, `gapMs` between
 * connections; `track` is told of the child (the bed kills it at cleanup).
 */
export function startClientLoop(
  nsFull: string,
  host: string,
  port: number,
  gapMs: number,
  env: NodeJS.ProcessEnv,
  track: (child: ChildProcess) => void,
): ClientLoop {
  const { child, io, done } = spawnProbe(CLIENT_LOOP_SCRIPT, nsFull, host, port, gapMs, env, track);
  return {
    successes: () => (io.out.match(/\./gu) ?? []).length,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.pid !== undefined && signal(child.pid, 'SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
      const line = io.out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`the client loop in ${nsFull} gave no result (exit ${child.exitCode}): ${io.err.trim()}`);
      return JSON.parse(line.slice('RESULT '.length)) as ClientLoopResult;
    },
  };
}

/**
 * Waits for the first TCP connection a VIP accepts: a new connection attempt every `gapMs`
 * (attempts overlap; each is given up after 1 s, so a SYN lost before the VIP exists delays
 * nothing), and the wall-clock time (`Date.now()`) of the first one that completes its handshake
 * is printed. Run inside a namespace.
 */
const ACCEPT_PROBE_SCRIPT = `
const net = require('node:net');
const [host, port, gapMs] = process.argv.slice(1);
let attempts = 0, done = false;
const errors = {};
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
const tick = () => {
  if (done) return;
  attempts++;
  const s = net.connect({ host, port: Number(port) });
  const t = setTimeout(() => { s.destroy(); errors.ETIMEDOUT = (errors.ETIMEDOUT || 0) + 1; }, 1000);
  s.on('connect', () => {
    const at = Date.now();
    clearTimeout(t);
    s.destroy();
    if (done) return;
    done = true;
    process.stdout.write('ACCEPTED ' + JSON.stringify({ at, attempts, errors }) + '\\n');
  });
  s.on('error', (e) => { clearTimeout(t); errors[e.code || e.message] = (errors[e.code || e.message] || 0) + 1; });
  setTimeout(tick, Number(gapMs));
};
tick();
`;

export interface AcceptProbeResult {
  /** When the first connection was accepted (`Date.now()` in the probe). */
  at: number;
  /** Connection attempts until then, and how the failed ones failed. */
  attempts: number;
  errors: Record<string, number>;
}

export interface AcceptProbe {
  /** Resolves with the first accepted connection; rejects after `timeoutMs` or if the probe dies. */
  accepted(timeoutMs: number): Promise<AcceptProbeResult>;
  stop(): Promise<void>;
}

/** Starts an accept probe in the namespace `nsFull` (its full name) against host:port (see above). */
export function startAcceptProbe(
  nsFull: string,
  host: string,
  port: number,
  gapMs: number,
  env: NodeJS.ProcessEnv,
  track: (child: ChildProcess) => void,
): AcceptProbe {
  const { child, io, done } = spawnProbe(ACCEPT_PROBE_SCRIPT, nsFull, host, port, gapMs, env, track);
  const result = (): AcceptProbeResult | undefined => {
    const line = io.out.split('\n').find((l) => l.startsWith('ACCEPTED '));
    return line ? (JSON.parse(line.slice('ACCEPTED '.length)) as AcceptProbeResult) : undefined;
  };
  return {
    accepted: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = result();
        if (r) return r;
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`the accept probe in ${nsFull} ended (${child.exitCode ?? child.signalCode}): ${io.err.trim()}`);
        if (Date.now() > deadline) throw new Error(`no connection to ${host}:${port} accepted from ${nsFull} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.pid !== undefined && signal(child.pid, 'SIGKILL'), 5_000);
      await done;
      clearTimeout(timer);
    },
  };
}
