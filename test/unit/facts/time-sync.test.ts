/**
 * The wait for NTP before certificates are made (issue 13 §5): when it happens (timeSyncWait, pure)
 * and its bound (waitForTimeSync, with an injected probe, sleep and clock: no real time passes and
 * no clock or service of the host is touched).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateProperties } from '../../../src/config/validate.js';
import { TIME_SYNC_WAIT_S, timeSyncWait, type PkiDecision } from '../../../src/plan/pki.js';
import { describeWait, waitForTimeSync, type SyncState } from '../../../src/facts/time-sync.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';

const withNtp = validateProperties({ ...SEED_PROPERTIES, 'network.ntp_servers': '10.0.0.123, ntp.example.com' }, { adapterCount: 3 }).config!;
const withoutNtp = validateProperties({ ...SEED_PROPERTIES, 'network.ntp_servers': '' }, { adapterCount: 3 }).config!;
const MAKES: PkiDecision = { ca: { source: 'generate', reason: 'there is no CA yet' }, server: { issue: true, reason: 'a new CA is being made' } };
const ISSUES: PkiDecision = { ca: { source: 'existing' }, server: { issue: true, reason: 'the SANs changed' } };
const KEEPS: PkiDecision = { ca: { source: 'existing' }, server: { issue: false } };
const RERUN = { live: true, systemd: true, boot: false };

test('the wait happens only when a certificate is made, NTP servers are set, and timesyncd can run (live, systemd, not the boot run)', () => {
  assert.deepEqual(timeSyncWait(withNtp, MAKES, RERUN), { wait: true });
  assert.deepEqual(timeSyncWait(withNtp, ISSUES, RERUN), { wait: true });
  const no = (c: typeof withNtp, d: PkiDecision, ctx: typeof RERUN) => {
    const w = timeSyncWait(c, d, ctx);
    assert.equal(w.wait, false);
    return (w as { why: string }).why;
  };
  assert.match(no(withNtp, KEEPS, RERUN), /no certificate is made/u);
  assert.match(no(withoutNtp, MAKES, RERUN), /network\.ntp_servers is blank/u);
  assert.match(no(withNtp, MAKES, { ...RERUN, live: false }), /--root sandbox/u);
  assert.match(no(withNtp, MAKES, { ...RERUN, systemd: false }), /systemd is not running/u);
  // The first boot: the agent runs before the network and timesyncd, so a wait could only time out.
  assert.match(no(withNtp, MAKES, { ...RERUN, boot: true }), /before the network and systemd-timesyncd start; the certificates are backdated/u);
});

/** A virtual clock: sleep advances it, nothing waits. */
function virtual(states: (t: number) => SyncState) {
  let t = 0;
  const probes: number[] = [];
  return {
    probe: async () => {
      probes.push(t);
      return states(t);
    },
    sleep: async (ms: number) => {
      t += ms;
    },
    now: () => t,
    probes,
  };
}

test(`an unreachable NTP server: the wait ends at its bound (${TIME_SYNC_WAIT_S} s), probing every 250 ms, and says so as a warning`, async () => {
  const v = virtual(() => 'waiting');
  const out = await waitForTimeSync(v.probe, { sleep: v.sleep, now: v.now });
  assert.deepEqual(out, { state: 'waiting', waitedMs: TIME_SYNC_WAIT_S * 1000 });
  assert.equal(v.probes.length, (TIME_SYNC_WAIT_S * 1000) / 250 + 1);
  assert.ok(v.probes.every((t, i) => t === i * 250));
  const said = describeWait(out);
  assert.equal(said.note, undefined);
  assert.equal(said.warning?.at, 'network.ntp_servers');
  assert.equal(said.warning?.code, 'time-not-synchronized');
  assert.equal(said.warning?.severity, 'warning');
  assert.match(said.warning.message, /not synchronised by NTP within 5\.0 s; the certificates are made now anyway, valid from 24 h before this clock/u);
});

test('synchronised after a second: the wait ends there; no NTP client at all: it does not wait', async () => {
  const v = virtual((t) => (t >= 1000 ? 'synchronized' : 'waiting'));
  const out = await waitForTimeSync(v.probe, { sleep: v.sleep, now: v.now });
  assert.deepEqual(out, { state: 'synchronized', waitedMs: 1000 });
  assert.match(describeWait(out).note!, /synchronised by NTP \(waited 1\.0 s\)/u);
  const none = virtual(() => 'no-ntp');
  assert.deepEqual(await waitForTimeSync(none.probe, { sleep: none.sleep, now: none.now }), { state: 'no-ntp', waitedMs: 0 });
  assert.equal(none.probes.length, 1);
  assert.equal(describeWait({ state: 'no-ntp', waitedMs: 0 }).warning, undefined);
});
