/** Test hook: `HAPROXY_APPLIANCE_CRASH_AT=<step>` ends the process abruptly (SIGKILL) at that step. */
export function crashPoint(step: string): void {
  if (process.env.HAPROXY_APPLIANCE_CRASH_AT === step) {
    process.stderr.write(`haproxy-appliance: simulated crash at ${step}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
