/**
 * What a dry run prints: one unified diff (jsdiff) over every file that would change, labelled
 * a/PATH and b/PATH as on the appliance (so `patch -p1 -d ROOT` applies it). Mode changes get
 * git's `old mode`/`new mode` lines. A secret file's content is never shown, only that it differs.
 */
import { createTwoFilesPatch } from 'diff';
import type { FileChange } from './changes.js';

const octal = (mode: number) => `100${(mode & 0o777).toString(8).padStart(3, '0')}`;

function patch(oldName: string, newName: string, before: string, after: string): string {
  // jsdiff starts with a line of '=' (and "Index:" for equal names); plain unified diff does not.
  return createTwoFilesPatch(oldName, newName, before, after, undefined, undefined, { context: 3 })
    .split('\n')
    .filter((line, i) => !(i < 2 && (/^=+$/u.test(line) || line.startsWith('Index: '))))
    .join('\n');
}

export function unifiedDiff(changes: FileChange[]): string {
  const out: string[] = [];
  for (const c of changes) {
    const a = `a${c.path}`;
    const b = `b${c.path}`;
    if (c.action === 'mode' || (c.action === 'update' && c.before && c.before.mode !== c.mode)) {
      out.push(`diff --git ${a} ${b}\nold mode ${octal(c.before!.mode)}\nnew mode ${octal(c.mode)}\n`);
    }
    if (c.action === 'mode') continue;
    if (c.secret) {
      const what = c.action === 'create' ? `/dev/null and ${b}` : c.action === 'remove' ? `${a} and /dev/null` : `${a} and ${b}`;
      out.push(`Files ${what} differ (secret: content not shown)\n`);
      continue;
    }
    if (c.action === 'create') out.push(patch('/dev/null', b, '', c.content ?? ''));
    else if (c.action === 'remove') out.push(patch(a, '/dev/null', c.before?.content ?? '', ''));
    else out.push(patch(a, b, c.before?.content ?? '', c.content ?? ''));
  }
  return out.join('');
}
