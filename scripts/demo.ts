/**
 * `npm run demo`: the whole product on this machine (run as root). Builds (and caches) a Debian
 * appliance image with the agent, boots it under systemd-nspawn in network namespaces wired like
 * the seed, verifies it from a workstation over SSH, adds the seed's load balancers, reruns
 * provision with changed properties under load, verifies again, and cleans up. The scenario is
 * test/harness/e2e-scenario.ts (the end-to-end test runs the same).
 */
import { runScenario } from '../test/harness/e2e-scenario.js';

const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
const result = await runScenario({ log: (line) => process.stdout.write(`${line}\n`), color });
if (!result.ok) {
  process.stderr.write(`\nnpm run demo: ${result.error ?? 'failed'}\n`);
  process.exitCode = 1;
}
