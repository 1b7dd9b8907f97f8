/**
 * The OVA as vSphere runs it, under QEMU: the disk `npm run ova` builds boots through BIOS and
 * GRUB on pvscsi, with vmxnet3 NICs carrying the seed's MACs on the seed's networks, and its OVF
 * environment on a CD-ROM as vSphere's ISO transport delivers it (test/harness/vm.ts). The steps,
 * each judged on the real machine:
 *
 *   1. first power-on with the seed's properties: the appliance configures itself (nobody at the
 *      console), the agent renames the NICs live, `verify --expect` is green but for the Data
 *      Plane API binary (not in this image)
 *   2. plain reboot: udev names the NICs through the agent's .link files, the agent changes
 *      nothing (no file rewritten, no reload) — the issue's step 5, run second so that one boot
 *      checks both
 *   3. power-cycle with changed properties (other DNS servers, one more service range, a new Data
 *      Plane API password): green against the new environment; a VIP in the new range binds
 *   4. power-cycle with an invalid property: the agent fails loudly (console, journal, state
 *      file), haproxy keeps serving the last good configuration, verify fails `provision.last-run`
 *      naming the property
 *   5. unique identity, beside step 4: a second machine from the same OVA (no NICs, no OVF
 *      environment) has its own SSH host key and machine-id, read from its disk after it
 *      powered off
 *
 * Needs root, Linux, qemu-system-x86 and the OVA build's tools (scripts/install-deps.sh installs
 * them). The OVA is built once and cached (test/harness/ova-build.ts). Console logs of a failed
 * run are kept in test-artifacts/vm-<id>/. Runs alone, with the static checks of the OVA: `npm run test:vm`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedOva } from '../harness/ova-build.js';
import { checkReadiness } from '../harness/image.js';
import { assertNothingLeft, listBedNamespaces } from '../harness/leak-guard.js';
import { seedEnvironment } from '../harness/appliance-image.js';
import { verdict, type VerifyRun } from '../harness/e2e-verdict.js';
import { SEED_NICS, ROLES } from '../harness/seed-topology.js';
import { VmBed, type Vm } from '../harness/vm.js';
import { DiskImage } from '../harness/disk-image.js';
import { tail } from '../harness/image.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'the VM test needs root on Linux (CI runs it as root)' : false;

const log = (line: string) => process.stderr.write(`${line}\n`);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Boot budget per power-on under TCG on a loaded 2-core machine (measured about 60 s). */
const BOOT_MS = 240_000;

/** The changed properties of step 4, and the VIP of the new range. */
const CHANGED = {
  'network.nameservers': '10.170.16.49, 10.142.7.2',
  'loadbalance.service_ip_range': '192.168.0.0/24,192.168.2.0/24',
  'loadbalance.haproxy_pwd': 'new-api-secret-4',
};
const NEW_VIP = '192.168.2.10';

function green(run: VerifyRun): { green: boolean; why: string } {
  const v = verdict(run.report);
  return { green: v.green, why: v.unexpected.join('\n') || `exit ${run.exitCode}` };
}

/** The NICs by MAC: name, and the .link file udev applied (ID_NET_LINK_FILE), one line per NIC. */
const NIC_NAMES = `for n in /sys/class/net/*; do [ -e "$n/device" ] || continue; printf '%s %s %s\\n' "$(cat $n/address)" "$(basename $n)" "$(udevadm info -q property -p $n | sed -n 's/^ID_NET_LINK_FILE=//p')"; done`;

/** Path, mtime and inode of every file the agent manages (state.json's list) and of state.json itself. */
const FILE_STAMPS = `node=$(command -v node || echo /usr/local/bin/node); $node -e 'const s=require("/var/lib/haproxy-appliance/state.json"); console.log(Object.keys(s.files).concat("/var/lib/haproxy-appliance/state.json").join("\\n"))' | while read -r f; do stat -c '%n %Y.%Z %i' "$f"; done`;

/**
 * Power-on → the serial console's login prompt (getty on ttyS0), the guest's own boot-to-login:
 * the yardstick for boot-to-green (NaN if the console never showed it; the steps then fail anyway).
 */
function loginPrompt(vm: Vm): Promise<number> {
  return vm.waitConsole(/ login: /u, BOOT_MS).then(
    () => performance.now() - vm.startedAt,
    () => NaN,
  );
}
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');

test('the OVA boots under QEMU like a vSphere VM: first boot, reboot, identity, changed and invalid properties', { skip, timeout: 30 * 60_000 }, async (t) => {
  const ready = await checkReadiness({ install: true });
  assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
  const namespacesBefore = new Set(await listBedNamespaces());
  const vmBed = new VmBed();
  let failed = true;
  const timings: string[] = [];
  try {
    const built = await cachedOva(log);
    timings.push(`OVA ${built.built ? 'built' : 'cached'} ${s(built.ms)}`);
    const imported = await vmBed.importOva(built.ova);
    log(`    accelerator: ${imported.accel} (${imported.why})`);
    await vmBed.wire();

    // 1. First power-on with the seed's properties.
    const seedXml = seedEnvironment();
    const seedIso = await vmBed.environmentIso('seed', seedXml);
    const disk1 = await vmBed.newDisk('vm1');
    let vm: Vm = await vmBed.powerOn('vm1', disk1, seedIso);
    const login1 = loginPrompt(vm);
    const ssh1 = await vmBed.waitSsh(vm, BOOT_MS);
    const expectSeed = await vmBed.workstationFile('seed-env.xml', seedXml);
    const v1 = await vmBed.verifyUntil(vm, ['--expect', expectSeed], (r) => green(r).green, 60_000);
    assert.ok(v1.greenMs !== undefined, `first boot: verify --expect is not green:\n${green(v1.run).why}`);
    timings.push(
      `first boot: login prompt ${s(await login1)}, SSH ${s(ssh1)}, green ${s(v1.greenMs)} (verify runs: ${v1.runs}); green ÷ login ${ratio(v1.greenMs, await login1)}`,
    );
    // Where the first boot's time went (seconds since the kernel started).
    const units = await vmBed.unitTimes('vm1', [
      'haproxy-appliance.service',
      'haproxy-appliance-host-keys.service',
      'systemd-networkd-wait-online.service',
      'ssh.service',
      'haproxy.service',
      'haproxy-appliance-trust-store.service',
    ]);
    timings.push(
      `first boot's units (s since the kernel started, start-active): ${units.map((u) => `${u.unit.replace(/\.service$/u, '')} ${u.startS?.toFixed(1) ?? '-'}-${u.activeS?.toFixed(1) ?? '-'}`).join(', ')}`,
    );
    const agent1 = await vmBed.mustSsh('vm1', 'journalctl -b -u haproxy-appliance.service -o cat --no-pager');
    assert.match(agent1, /OVF environment from ISO transport \(\/dev\/sr0/u, 'the agent read the CD-ROM on /dev/sr0');
    // The agent renamed each NIC from its kernel name (its journal), and the kernel says so.
    const kernel1 = await vmBed.mustSsh('vm1', 'journalctl -b -k -o cat --no-pager');
    for (const role of ROLES) {
      const renamed = new RegExp(`renamed (\\S+) to ${role}\\b`, 'u').exec(agent1);
      assert.ok(renamed, `first boot: the agent renamed a NIC to ${role}:\n${agent1}`);
      assert.match(
        kernel1,
        new RegExp(`${role}: renamed from ${renamed[1]}\\b`, 'u'),
        `first boot: the kernel saw the agent's rename of ${renamed[1]} to ${role}`,
      );
    }
    const ids1 = (await vmBed.mustSsh('vm1', 'cat /etc/machine-id; cat /etc/ssh/ssh_host_ed25519_key.pub')).trim().split('\n');
    const stampsBefore = await vmBed.mustSsh('vm1', FILE_STAMPS);

    // 2. Plain reboot: udev names the NICs; the agent changes nothing.
    const bootId1 = (await vmBed.mustSsh('vm1', 'cat /proc/sys/kernel/random/boot_id')).trim();
    const tReboot = performance.now();
    vm = await vmBed.reboot(vm);
    await vmBed.waitSsh(vm, BOOT_MS);
    const bootId2 = (await vmBed.mustSsh('vm1', 'cat /proc/sys/kernel/random/boot_id')).trim();
    assert.notEqual(bootId2, bootId1, 'a new boot');
    const agent2 = await vmBed.mustSsh('vm1', 'journalctl -b -u haproxy-appliance.service -o cat --no-pager');
    assert.match(agent2, /nothing to change/u, `reboot: the agent had something to change:\n${agent2}`);
    assert.doesNotMatch(agent2, /\brenamed? /u, 'reboot: the agent renamed nothing');
    // udev named them at coldplug, from the kernel's names, by the agent's .link files.
    const names2 = await vmBed.mustSsh('vm1', NIC_NAMES);
    const kernel2 = await vmBed.mustSsh('vm1', 'journalctl -b -k -o cat --no-pager');
    for (const role of ROLES) {
      assert.match(
        names2,
        new RegExp(`^${SEED_NICS[role].mac} ${role} /etc/systemd/network/\\S*${role}\\.link$`, 'mu'),
        `reboot: udev applied ${role}'s .link file:\n${names2}`,
      );
      assert.match(
        kernel2,
        new RegExp(`${role}: renamed from \\S+`, 'u'),
        `reboot: udev renamed the NIC to ${role} (the agent renamed nothing):\n${tail(kernel2, 40)}`,
      );
    }
    assert.equal(await vmBed.mustSsh('vm1', FILE_STAMPS), stampsBefore, 'reboot: no file the agent manages was rewritten');
    const reloads = await vmBed.mustSsh('vm1', 'journalctl -b -u haproxy.service -o cat --no-pager | grep -c -i reload || true');
    assert.equal(reloads.trim(), '0', 'reboot: haproxy was not reloaded');
    const v2 = await vmBed.verifyUntil(vm, ['--expect', expectSeed], (r) => green(r).green, 60_000);
    assert.ok(v2.greenMs !== undefined, `reboot: verify is not green:\n${green(v2.run).why}`);
    timings.push(`reboot: ${s(performance.now() - tReboot)}`);

    // 3. Power-cycle with changed properties.
    assert.ok((await vm.shutdown()).clean, 'vm1 shut down on the ACPI power button');
    const changedXml = seedEnvironment(CHANGED);
    vm = await vmBed.powerOn('vm1', disk1, await vmBed.environmentIso('changed', changedXml));
    const login3 = loginPrompt(vm);
    await vmBed.waitSsh(vm, BOOT_MS);
    const expectChanged = await vmBed.workstationFile('changed-env.xml', changedXml);
    const v3 = await vmBed.verifyUntil(vm, ['--expect', expectChanged], (r) => green(r).green, 60_000);
    assert.ok(v3.greenMs !== undefined, `changed properties: verify --expect is not green:\n${green(v3.run).why}`);
    timings.push(
      `power-cycle with changed properties: login prompt ${s(await login3)}, green ${s(v3.greenMs)}; green ÷ login ${ratio(v3.greenMs, await login3)}`,
    );
    const resolv = await vmBed.mustSsh('vm1', 'resolvectl dns');
    assert.match(resolv, /10\.170\.16\.49/u, 'the new DNS servers are in use');
    // The Data Plane API's part, by hand: a load balancer on a VIP of the new range.
    await vmBed.mustSsh(
      'vm1',
      `cat >>/etc/haproxy/haproxy.cfg <<'EOF'

frontend hpa-vm-new-range
  mode tcp
  bind ${NEW_VIP}:6443
  default_backend hpa-vm-new-range-be

backend hpa-vm-new-range-be
  mode tcp
  server cp0 192.168.128.0:6443
EOF
systemctl reload haproxy.service`,
    );
    let conn = await vmBed.bed.connect('wclient', NEW_VIP, 6443, { timeoutMs: 10_000 });
    for (let i = 0; i < 20 && !conn.ok; i++) conn = await vmBed.bed.connect('wclient', NEW_VIP, 6443, { timeoutMs: 10_000 });
    assert.ok(conn.ok, `a client reaches the VIP ${NEW_VIP}:6443 of the new range: ${conn.error}`);

    // 4. Power-cycle with an invalid property; 5. beside it, a second machine from the same OVA,
    // powered on once without NICs or an OVF environment (what it makes of itself at first boot
    // does not depend on them), then read from its disk.
    await vm.shutdown();
    const disk2 = await vmBed.newDisk('vm2');
    const vm2 = await vmBed.powerOn('vm2', disk2, undefined, { nics: false });
    const badXml = seedEnvironment({ ...CHANGED, 'network.nameservers': '10.170.16.300' });
    vm = await vmBed.powerOn('vm1', disk1, await vmBed.environmentIso('invalid', badXml));
    await vmBed.waitSsh(vm, BOOT_MS);
    assert.match(vm.consoleTail(400), /PROVISIONING FAILED.*network\.nameservers/u, 'the console says the run failed, naming the property');
    const agent4 = await vmBed.ssh('vm1', 'journalctl -b -u haproxy-appliance.service -o cat --no-pager');
    assert.match(agent4.stdout, /PROVISIONING FAILED/u, 'the journal says so');
    const kernel4 = await vmBed.mustSsh('vm1', 'journalctl -b -k -o cat --no-pager');
    assert.match(kernel4, /PROVISIONING FAILED: bad input.*network\.nameservers/u, 'the kernel log has it: every console, the VGA one included');
    const state = JSON.parse(await vmBed.mustSsh('vm1', 'cat /var/lib/haproxy-appliance/state.json')) as {
      lastRun?: { outcome: string; problems?: Array<{ at: string }> };
    };
    assert.equal(state.lastRun?.outcome, 'input-error');
    assert.ok(
      state.lastRun?.problems?.some((p) => p.at === 'network.nameservers'),
      'state.json names the property',
    );
    assert.equal((await vmBed.ssh('vm1', 'systemctl is-active haproxy.service')).stdout.trim(), 'active', 'haproxy runs');
    conn = await vmBed.bed.connect('wclient', NEW_VIP, 6443, { timeoutMs: 10_000 });
    assert.ok(conn.ok, `the last good configuration keeps serving ${NEW_VIP}:6443: ${conn.error}`);
    const v4 = await vmBed.verify('vm1');
    const lastRun = v4.report.hosts[0]?.checks.find((c) => c.id === 'provision.last-run');
    assert.equal(lastRun?.status, 'fail', 'verify fails provision.last-run');
    assert.match(lastRun?.message ?? '', /network\.nameservers/u, 'naming the property');
    timings.push(`power-cycle with an invalid property: ${s(performance.now() - vm.startedAt)}`);
    await vm.shutdown();

    await vm2.waitConsole(/haproxy login:/u, BOOT_MS);
    assert.match(vm2.consoleTail(400), /PROVISIONING FAILED: bad input.*no-environment/u, 'without an OVF environment the agent says so at the console');
    const off2 = await vm2.shutdown();
    assert.ok(off2.clean, 'vm2 shut down on the ACPI power button');
    const image2 = DiskImage.open(disk2, `${disk2}.raw`);
    const ids2 = [image2.cat('/etc/machine-id').trim(), image2.cat('/etc/ssh/ssh_host_ed25519_key.pub').trim()];
    image2.close();
    assert.match(ids1[0]!, /^[0-9a-f]{32}$/u);
    assert.match(ids2[0]!, /^[0-9a-f]{32}$/u);
    assert.notEqual(ids2[0], ids1[0], 'the two appliances have different machine-ids');
    assert.match(ids2[1]!, /^ssh-ed25519 \S+/u);
    assert.notEqual(ids2[1]!.split(' ')[1], ids1[1]!.split(' ')[1], 'the two appliances have different SSH host keys');
    timings.push(`second machine: ${s(performance.now() - vm2.startedAt)}`);
    failed = false;
  } finally {
    t.diagnostic(timings.join('; '));
    if (failed) log(`    console logs kept in ${await vmBed.keepConsoleLogs()}`);
    const notes = await vmBed.cleanup();
    for (const n of notes) log(`    cleanup: ${n}`);
  }
  await assertNothingLeft({ before: namespacesBefore, bedIds: [vmBed.bed.id], pids: vmBed.pids });
});
