/**
 * Reads the appliance's root file system from a disk image (the OVA's VMDK, a VM's qcow2
 * overlay) without mounting anything: `qemu-img convert` to a sparse raw file, then debugfs
 * (e2fsprogs) on the first partition, at the offset its MBR entry gives.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';

export class DiskImage {
  private constructor(
    readonly raw: string,
    /** The first 512 bytes: boot code, partition table, signature. */
    readonly mbr: Buffer,
    private readonly fs: string,
  ) {}

  /** Converts `image` (any format qemu-img reads) to `raw` and opens its first partition. */
  static open(image: string, raw: string): DiskImage {
    execFileSync('qemu-img', ['convert', '-O', 'raw', image, raw]);
    const mbr = Buffer.alloc(512);
    const fd = openSync(raw, 'r');
    try {
      readSync(fd, mbr, 0, 512, 0);
    } finally {
      closeSync(fd);
    }
    const start = mbr.readUInt32LE(446 + 8);
    return new DiskImage(raw, mbr, `${raw}?offset=${start * 512}`);
  }

  debugfs(cmd: string): { out: string; err: string } {
    const r = spawnSync('debugfs', ['-R', cmd, this.fs], { encoding: 'utf8' });
    return { out: r.stdout, err: r.stderr.replace(/^debugfs [^\n]*\n/u, '') };
  }

  /** A file's content; fails the test when it is not there. */
  cat(path: string): string {
    const r = this.debugfs(`cat ${path}`);
    assert.equal(r.err.trim(), '', `${path} is in the disk: ${r.err}`);
    return r.out;
  }

  exists(path: string): boolean {
    return !/File not found/u.test(this.debugfs(`stat ${path}`).err);
  }

  /** The names in a folder (without . and ..). */
  ls(path: string): string[] {
    return this.debugfs(`ls -p ${path}`)
      .out.split('\n')
      .map((l) => l.split('/')[5])
      .filter((n): n is string => !!n && n !== '.' && n !== '..');
  }

  /** Where a symbolic link points. */
  linkTarget(path: string): string | undefined {
    return /Fast link dest: "([^"]*)"/u.exec(this.debugfs(`stat ${path}`).out)?.[1];
  }

  close(): void {
    rmSync(this.raw, { force: true });
  }
}
