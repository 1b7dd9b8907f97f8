/**
 * What booting a container with systemd-nspawn leaves to clean up, and how to find its init: a
 * cgroup of its own per hierarchy systemd uses, nspawn's runtime files, the container's PID 1.
 * Used by the ApplianceBed of appliance-image.ts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { signal, sleep } from './process.js';
import { walkTree } from './tree.js';

/**
 * A fresh cgroup `name` beside this process's own, in the hierarchies systemd uses (the cgroup2
 * one, and the v1 name=systemd one on hybrid hosts). Returns their directories.
 */
export function makeCgroups(name: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => {
      const [pre, post] = l.split(' - ');
      const f = (pre ?? '').split(' ');
      const g = (post ?? '').split(' ');
      return { point: f[4] ?? '', fstype: g[0] ?? '', options: g[2] ?? '' };
    });
  const dirs: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    const mount =
      controllers === ''
        ? mounts.find((m) => m.fstype === 'cgroup2')
        : controllers === 'name=systemd'
          ? mounts.find((m) => m.fstype === 'cgroup' && m.options.split(',').includes('name=systemd'))
          : undefined;
    if (!mount) continue;
    const dir = join(mount.point, path, name);
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the cgroup ${dir}: ${(e as Error).message}`, { cause: e });
    }
    dirs.push(dir);
  }
  return dirs;
}

/** A cgroup and every cgroup below it, deepest first (what rmdir needs); [] when it is gone. */
function cgroupsDeepestFirst(top: string): string[] {
  try {
    return [
      ...walkTree(top)
        .filter((e) => e.dirent.isDirectory())
        .map((e) => e.path)
        .reverse(),
      top,
    ];
  } catch {
    return [];
  }
}

/** Removes these cgroups, deepest first; a process left in one is ours and is killed by PID. Returns what could not be removed. */
export async function removeCgroups(tops: string[]): Promise<string[]> {
  const notes: string[] = [];
  for (const top of tops) {
    if (!existsSync(top)) continue;
    const dirs = cgroupsDeepestFirst(top);
    for (let attempt = 0; attempt < 50; attempt++) {
      const pids = dirs.flatMap((d) => {
        try {
          return readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        } catch {
          return [];
        }
      });
      if (pids.length === 0) break;
      for (const pid of pids) signal(pid, 'SIGKILL');
      await sleep(100);
    }
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') notes.push(`cgroup ${d} not removed: ${(e as Error).message}`);
      }
    }
  }
  return notes;
}

/** Synchronous, best-effort {@link removeCgroups} for the exit hook: what is busy or gone is left. */
export function removeCgroupsSync(tops: string[]): void {
  for (const top of tops) {
    for (const d of cgroupsDeepestFirst(top)) {
      try {
        rmdirSync(d);
      } catch {
        /* busy or gone: left */
      }
    }
  }
}

/** nspawn's runtime files for a machine, when it was killed before it could remove them. */
export function removeNspawnRuntime(paths: string[]): void {
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) rmdirSync(p);
      else rmSync(p, { force: true });
    } catch {
      /* not there (the normal case), or not empty: left */
    }
  }
}

/**
 * The container's init: the child of the nspawn process `pid` that runs systemd. (While nspawn
 * sets up, it has a short-lived helper child, and init is nspawn itself until it execs systemd.)
 */
export function containerInit(pid: number): number | undefined {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/u).filter(Boolean).map(Number);
  } catch {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/u.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) kids.push(Number(d));
      } catch {
        /* gone */
      }
    }
  }
  return kids.find((k) => {
    try {
      return readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'systemd';
    } catch {
      return false;
    }
  });
}
