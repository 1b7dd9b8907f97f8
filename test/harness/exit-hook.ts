/**
 * Last-resort cleanup for test beds: a synchronous callback run when the process exits, also on
 * SIGINT/SIGTERM/SIGHUP (then the signal is re-raised with its default action unless someone
 * else listens for it). Only a SIGKILL leaves a bed's namespaces and processes behind.
 */
const callbacks = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const fn of callbacks) {
    try {
      fn();
    } catch {
      /* the next one still runs */
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      runAll();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** Registers `fn` to run at exit; the returned function unregisters it (after a normal cleanup). */
export function cleanupOnExit(fn: () => void): () => void {
  install();
  callbacks.add(fn);
  return () => {
    callbacks.delete(fn);
  };
}
