/**
 * Issue #12, section 3, on the booted appliance (the e2e image under systemd-nspawn: real systemd,
 * the real haproxy.service, the agent as installed): with 1,000 frontend/backend pairs written as
 * the Data Plane API writes them, `provision` with a new Data Plane API password keeps every
 * section of the API byte for byte, makes haproxy reload exactly once (counted by haproxy's
 * master, which stays the same process), and a client connecting again and again to one of the
 * pairs' VIPs meanwhile sees no connection fail; reruns with nothing to change reload nothing.
 * The same run with 10,000 pairs is a bench (too slow for CI on 2 cores):
 * `node --import tsx bench/scale-provision.bench.ts --booted` (test/harness/scale-rerun.ts).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { assertNothingLeft } from '../harness/leak-guard.js';
import { checkReadiness } from '../harness/image.js';
import { bootedScaleRerun } from '../harness/scale-rerun.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the booted appliance needs root on Linux (CI runs it as root)' : false;
const PAIRS = 1000;

test(`${PAIRS} API pairs: a userlist change reloads haproxy once, keeps every section, drops no connection`, { skip, timeout: 10 * 60_000 }, async (t) => {
  const ready = await checkReadiness({ install: true });
  assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
  const r = await bootedScaleRerun({ pairs: PAIRS, noopRuns: 2, log: (line) => process.stderr.write(`${line}\n`) });
  t.diagnostic(
    `rerun ${(r.rerunMs / 1000).toFixed(2)} s; client on ${r.vip}: ${r.during.ok} connections, ${r.failed} failed; no-op reruns ${r.noopMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s`,
  );
  assert.match(r.rerunOutput, /updated \/etc\/haproxy\/haproxy\.cfg/u, 'the rerun rewrote haproxy.cfg');
  assert.equal(r.userlistChanged, true, 'the userlist has the new hash, and the no-op reruns left it');
  assert.equal(r.sectionsKept, true, 'every API section kept byte for byte, in order, through the rerun and the no-op reruns');
  assert.equal(r.reloadsByRerun, 1, `exactly one reload (haproxy's master: ${JSON.stringify(r.before)} → ${JSON.stringify(r.after)})`);
  assert.equal(r.sameMaster, true, 'a reload, not a restart: the same master process (show proc and systemd MainPID)');
  assert.notDeepEqual(r.after.workers, r.before.workers, 'a new worker serves');
  assert.ok(r.during.ok >= 20, `the client ran through the rerun: ${JSON.stringify(r.during)}`);
  assert.deepEqual(r.during.errors, {}, 'no connection failed');
  assert.equal(r.reloadsByNoops, 0, 'the no-op reruns reloaded nothing');
  // Its own bed only: other beds may run on this machine meanwhile.
  await assertNothingLeft({ bedIds: [r.bedId] });
  assert.equal(existsSync(r.workDir), false, `${r.workDir} is removed`);
});
