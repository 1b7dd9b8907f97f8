/**
 * End to end, the way users meet the product: the image with the agent baked in boots under real
 * systemd (systemd-nspawn, network namespaces wired like the seed), the first boot configures it
 * from its OVF environment, `verify` from the workstation is green, the Data Plane API's load
 * balancers come up, a rerun with changed properties refuses no connection and leaves verify
 * green, and everything is cleaned up. The same scenario as `npm run demo` (test/harness/e2e-scenario.ts).
 *
 * Needs root and Linux (CI runs as root); installs debootstrap and systemd-container when missing
 * (scripts/install-deps.sh). The Debian image is built once (~1 min) and cached under
 * /var/cache/haproxy-appliance-test; a warm run takes about 20 s.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertNothingLeft, listBedNamespaces } from '../harness/leak-guard.js';
import { checkReadiness } from '../harness/image.js';
import { runScenario } from '../harness/e2e-scenario.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the end-to-end appliance test needs root on Linux (CI runs it as root)' : false;

test('the appliance image boots, provisions itself, verifies green and survives a rerun under load', { skip, timeout: 20 * 60_000 }, async (t) => {
  const ready = await checkReadiness({ install: true });
  assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
  const namespacesBefore = new Set(await listBedNamespaces());
  const result = await runScenario({ log: (line) => process.stderr.write(`${line}\n`) });
  t.diagnostic(
    `boot-to-green ${((result.bootToGreenMs ?? NaN) / 1000).toFixed(1)} s, no-op rerun ${((result.noopRerunMs ?? NaN) / 1000).toFixed(2)} s, trust store ${((result.trustStore?.ms ?? NaN) / 1000).toFixed(2)} s`,
  );
  assert.ok(result.ok, `the scenario failed: ${result.error}`);
  assert.deepEqual(
    result.steps.map((s) => s.ok),
    [true, true, true, true, true, true, true],
  );
  assert.ok(result.bootToGreenMs !== undefined && result.bootToGreenMs < 120_000, 'green within two minutes of power-on');
  assert.equal(Object.keys(result.duringReload?.errors ?? { missing: 1 }).length, 0, 'no connection failed during the haproxy reload');
  assert.equal(Object.keys(result.duringRerun?.errors ?? { missing: 1 }).length, 0, 'no connection failed during the rerun');

  // The appliance's own surface (issue #9, class 6): resolved's LLMNR (5355) and mDNS (5353)
  // responders are off, so nothing answers on every VIP through AnyIP; the verifier agrees.
  const surface = result.surface!;
  assert.ok(surface.listeners.length > 0, 'the listeners were collected');
  const portOf = (l: string) => Number(l.slice(l.lastIndexOf(':') + 1));
  assert.deepEqual(
    surface.listeners.filter((l) => [5353, 5355].includes(portOf(l))),
    [],
    `nothing listens on 5355 or 5353: ${surface.listeners.join(', ')}`,
  );
  assert.deepEqual(
    surface.exposed.filter((c) => c.subject !== undefined && [5353, 5355].includes(portOf(c.subject))),
    [],
    'verify reports nothing on 5355 or 5353',
  );
  assert.deepEqual(
    surface.exposed.map((c) => c.status),
    ['pass'],
    `vip.exposed passes: ${JSON.stringify(surface.exposed)}`,
  );

  // The trust store (class 7): done after the services, by its own unit, and it holds the CA.
  assert.equal(result.trustStore?.loaded, true, 'haproxy-appliance-trust-store.service is installed');
  assert.equal(result.trustStore?.result, 'success', 'haproxy-appliance-trust-store.service succeeded');
  assert.equal(result.trustStore?.bundleHoldsCa, true, 'the system bundle holds the appliance CA');

  // Nothing left behind: namespaces, the work directory, mounts.
  await assertNothingLeft({ before: namespacesBefore });
  const work = result.workDir!;
  assert.equal(existsSync(work), false, `${work} is removed`);
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(work), `nothing is mounted under ${work}`);
});
