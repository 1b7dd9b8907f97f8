/**
 * The one tree walk of the tests: every entry below a folder, from one
 * `readdirSync(dir, { recursive: true, withFileTypes: true })` (which lists symbolic links as
 * links and never follows them), in a stable order.
 */
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { join, relative } from 'node:path';

export interface TreeEntry {
  /** The path below the root, with a leading slash (`/etc/hostname`): the path on the appliance for a sandbox root. */
  rel: string;
  /** The full path. */
  path: string;
  /** Its type as the listing saw it (`isDirectory()`, `isFile()`, `isSymbolicLink()`, …). */
  dirent: Dirent;
}

export interface WalkOptions {
  /** Leave out this entry, and everything below it when it is a folder. */
  skip?: (rel: string, dirent: Dirent) => boolean;
}

/** Sorts like a depth-first walk over sorted names: a folder right before what it holds. */
const sortKey = (rel: string) => rel.replaceAll('/', '\u0000');

/** Every entry below `root` (not `root` itself): a folder before its entries, names sorted. */
export function walkTree(root: string, opts: WalkOptions = {}): TreeEntry[] {
  const all = readdirSync(root, { recursive: true, withFileTypes: true })
    .map((dirent) => {
      const path = join(dirent.parentPath, dirent.name);
      return { rel: `/${relative(root, path)}`, path, dirent, key: sortKey(`/${relative(root, path)}`) };
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: TreeEntry[] = [];
  const skipped: string[] = [];
  for (const { rel, path, dirent } of all) {
    if (skipped.some((s) => rel.startsWith(`${s}/`))) continue;
    if (opts.skip?.(rel, dirent)) {
      skipped.push(rel);
      continue;
    }
    out.push({ rel, path, dirent });
  }
  return out;
}

/** Whether the entry is a regular file, or a symbolic link to one. */
export function isFileEntry(e: TreeEntry): boolean {
  return e.dirent.isFile() || (e.dirent.isSymbolicLink() && statSync(e.path, { throwIfNoEntry: false })?.isFile() === true);
}

/** Every file below `root` (path on the appliance → content), leaving out what `skip` says. */
export function tree(root: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  return new Map(
    walkTree(root, { skip: (rel) => skip(rel) })
      .filter(isFileEntry)
      .map((e) => [e.rel, readFileSync(e.path, 'utf8')]),
  );
}
