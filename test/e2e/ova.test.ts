/**
 * The OVA `npm run ova` builds (scripts/ova.ts, the same build as the VM test's, cached by
 * test/harness/ova-build.ts), checked as a file, without booting it:
 *
 * - the package: under 450 MiB; GNU tar lists the descriptor first, then the manifest, then the
 *   disk; the manifest matches every file; the descriptor validates against DMTF DSP8023 1.1.1
 *   (xmllint); `qemu-img check` passes and the VMDK is streamOptimized;
 * - the disk, read with debugfs (nothing is mounted): an MBR with GRUB's boot code and one
 *   bootable Linux partition; the serial and VGA consoles on the kernel's command line; what the
 *   build clears (an empty machine-id, no SSH host keys, root locked, no apt lists or downloaded
 *   packages); the packages it must have (kernel with the drivers of vSphere's and QEMU's hardware,
 *   networkd, resolved, timesyncd, haproxy, sshd, open-vm-tools, the agent) and must not (cloud-init,
 *   any DHCP client but networkd's); the services enabled.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256File } from '../../src/ova/archive.js';
import { checkManifest } from '../../src/ova/manifest.js';
import { cachedOva } from '../harness/ova-build.js';
import { DiskImage } from '../harness/disk-image.js';
import { checkReadiness } from '../harness/image.js';
import { ROOT } from '../harness/ovf.js';

const notRoot = process.platform !== 'linux' || process.getuid?.() !== 0;
const skip = notRoot ? 'building the OVA needs root on Linux (CI runs it as root)' : false;
const SCHEMA = join(ROOT, 'test/fixtures/ovf-schema/dsp8023_1.1.1.xsd');
const log = (line: string) => process.stderr.write(`${line}\n`);

test('the OVA: package, descriptor, VMDK, and what its disk holds', { skip, timeout: 20 * 60_000 }, async (t) => {
  const ready = await checkReadiness({ install: true });
  assert.ok(ready.ok, ready.ok ? '' : `${ready.reason}\nwhat to do: ${ready.fix}`);
  const { ova, built, ms } = await cachedOva(log);
  const size = statSync(ova).size;
  t.diagnostic(`OVA ${(size / 2 ** 20).toFixed(0)} MiB (${built ? `built in ${(ms / 1000).toFixed(0)} s` : 'cached'})`);
  assert.ok(size < 450 * 2 ** 20, `the OVA is ${(size / 2 ** 20).toFixed(0)} MiB: keep it under 450 MiB`);

  const dir = mkdtempSync('/var/tmp/hpa-ova-check-');
  try {
    // The package.
    const listing = execFileSync('tar', ['-tf', ova], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listing, ['haproxy.ovf', 'haproxy.mf', 'haproxy-disk1.vmdk'], 'tar: descriptor first, then manifest, then disk');
    execFileSync('tar', ['-xf', ova, '-C', dir]);
    const files = [];
    for (const name of ['haproxy.ovf', 'haproxy-disk1.vmdk']) files.push({ name, sha256: await sha256File(join(dir, name)) });
    assert.deepEqual(checkManifest(readFileSync(join(dir, 'haproxy.mf'), 'utf8'), files), [], 'the manifest matches the files');
    const lint = spawnSync('xmllint', ['--noout', '--nonet', '--schema', SCHEMA, join(dir, 'haproxy.ovf')], { encoding: 'utf8' });
    assert.equal(lint.status, 0, `the descriptor validates against DSP8023 1.1.1:\n${lint.stderr}`);
    const ovf = readFileSync(join(dir, 'haproxy.ovf'), 'utf8');
    assert.match(
      ovf,
      new RegExp(`ovf:href="haproxy-disk1.vmdk"[^>]* ovf:size="${statSync(join(dir, 'haproxy-disk1.vmdk')).size}"`, 'u'),
      'References give the VMDK its size',
    );
    const vmdk = join(dir, 'haproxy-disk1.vmdk');
    const check = spawnSync('qemu-img', ['check', vmdk], { encoding: 'utf8' });
    assert.equal(check.status, 0, `qemu-img check: ${check.stdout}${check.stderr}`);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', vmdk], { encoding: 'utf8' })) as {
      format: string;
      'virtual-size': number;
      'format-specific'?: { data?: { 'create-type'?: string } };
    };
    assert.equal(info.format, 'vmdk');
    assert.equal(info['format-specific']?.data?.['create-type'], 'streamOptimized');
    assert.match(ovf, new RegExp(`ovf:capacity="${info['virtual-size']}"`, 'u'), 'the DiskSection gives the disk its capacity');

    // The disk: MBR, GRUB, partition.
    const disk = DiskImage.open(vmdk, join(dir, 'disk.raw'));
    rmSync(vmdk);
    const { mbr } = disk;
    assert.equal(mbr.readUInt16LE(510), 0xaa55, 'an MBR boot signature');
    assert.ok(mbr.includes('GRUB'), "GRUB's boot code in the MBR");
    assert.equal(mbr[446], 0x80, 'partition 1 is bootable');
    assert.equal(mbr[446 + 4], 0x83, 'partition 1 is a Linux partition');
    const cat = (path: string) => disk.cat(path);
    const exists = (path: string) => disk.exists(path);
    const ls = (path: string) => disk.ls(path);

    const grub = cat('/boot/grub/grub.cfg');
    assert.match(grub, /linux \/vmlinuz root=UUID=\S+ ro console=tty0 console=ttyS0,115200n8/u, 'the kernel on the VGA and the serial console');
    assert.match(grub, /serial --unit=0 --speed=115200/u, 'GRUB on the serial console too');
    assert.ok(exists('/boot/grub/i386-pc/normal.mod'), "GRUB's modules");

    // What the build clears.
    assert.equal(cat('/etc/machine-id'), '', 'machine-id is empty: each appliance makes its own');
    assert.deepEqual(
      ls('/etc/ssh').filter((n) => n.startsWith('ssh_host_')),
      [],
      'no SSH host keys: each appliance makes its own at first boot',
    );
    const rootEntry = cat('/etc/shadow')
      .split('\n')
      .find((l) => l.startsWith('root:'))!;
    assert.match(rootEntry.split(':')[1]!, /^!/u, 'root is locked');
    assert.deepEqual(
      ls('/var/lib/apt/lists').filter((n) => n !== 'partial' && n !== 'lock'),
      [],
      'no apt lists',
    );
    assert.deepEqual(
      ls('/var/cache/apt/archives').filter((n) => n.endsWith('.deb')),
      [],
      'no downloaded packages',
    );

    // Packages: what it must have and must not.
    const installed = new Set(
      cat('/var/lib/dpkg/status')
        .split('\n\n')
        .filter((p) => /^Status: install ok installed$/mu.test(p))
        .map((p) => /^Package: (\S+)$/mu.exec(p)?.[1]),
    );
    for (const p of ['linux-image-amd64', 'systemd', 'systemd-resolved', 'systemd-timesyncd', 'haproxy', 'openssh-server', 'open-vm-tools', 'udev', 'openssl'])
      assert.ok(installed.has(p), `${p} is installed`);
    for (const p of ['cloud-init', 'isc-dhcp-client', 'dhcpcd5', 'dhcpcd-base', 'udhcpc', 'pump', 'ifupdown', 'network-manager'])
      assert.ok(!installed.has(p), `${p} is not installed`);
    for (const f of ['/usr/sbin/dhclient', '/usr/sbin/dhcpcd', '/usr/bin/cloud-init', '/etc/cloud']) assert.ok(!exists(f), `${f} is not in the disk`);
    const kver = ls('/usr/lib/modules')[0]!;
    const modules = cat(`/usr/lib/modules/${kver}/modules.dep`);
    for (const m of ['vmxnet3', 'e1000', 'vmw_pvscsi', 'mptspi', 'ahci', 'ata_piix', 'sr_mod', 'isofs', 'virtio_scsi', 'virtio_net'])
      assert.match(modules, new RegExp(`/${m}\\.ko:`, 'u'), `the kernel's ${m} driver`);

    // The agent and the services.
    assert.ok(exists('/usr/local/bin/haproxy-appliance'), 'the agent');
    assert.ok(!exists('/usr/local/bin/dataplaneapi'), 'no Data Plane API binary unless --dataplaneapi gives one');
    const wants = (target: string) => ls(`/etc/systemd/system/${target}.wants`);
    for (const u of [
      'haproxy-appliance.service',
      'systemd-networkd.service',
      'systemd-resolved.service',
      'haproxy.service',
      'ssh.service',
      'open-vm-tools.service',
    ])
      assert.ok(wants('multi-user.target').includes(u), `${u} is enabled`);
    assert.ok(wants('sysinit.target').includes('systemd-timesyncd.service'), 'systemd-timesyncd is enabled');
    assert.ok(wants('ssh.service').includes('haproxy-appliance-host-keys.service'), 'host keys are made at first boot');
    assert.ok(wants('network-online.target').includes('systemd-networkd-wait-online.service'), 'network-online waits for networkd');
    assert.equal(disk.linkTarget('/etc/systemd/system/systemd-firstboot.service'), '/dev/null', 'systemd-firstboot is masked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run ova refuses a --dataplaneapi file that is not an x86-64 Linux executable, before building', { skip }, () => {
  const r = spawnSync('bash', [join(ROOT, 'scripts/build-disk.sh'), '--dataplaneapi', join(ROOT, 'package.json'), '/var/tmp/hpa-ova-never'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--dataplaneapi .*package\.json: not an x86-64 Linux executable/u);
  assert.throws(() => statSync('/var/tmp/hpa-ova-never'), 'nothing was made');
});
