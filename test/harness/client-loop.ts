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
  const child = spawn('ip', ['netns', 'exec', nsFull, process.execPath, '-e', CLIENT_LOOP_SCRIPT, host, String(port), String(gapMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  track(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = exited(child);
  return {
    successes: () => (out.match(/\./gu) ?? []).length,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.pid !== undefined && signal(child.pid, 'SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`the client loop in ${nsFull} gave no result (exit ${child.exitCode}): ${err.trim()}`);
      return JSON.parse(line.slice('RESULT '.length)) as ClientLoopResult;
    },
  };
}
