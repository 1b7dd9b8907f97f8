/**
 * `verify --support-bundle DIR`: the bundles of every host instead of the checks. The SSH side
 * is src/verify/support.ts; this prints one line per host (or JSON) and returns the exit code.
 */
import { inputError } from '../errors.js';
import type { Values } from './command.js';
import type { HostSpec } from '../verify/inventory.js';
import type { BundleOptions } from '../verify/support.js';
import { displaySafe, displaySafeDeep, MAX_FIELD_CHARS } from '../verify/report.js';

/** verify's options that mean nothing for a bundle. */
const CHECK_ONLY = ['expect', 'junit', 'api-user', 'api-password-env', 'verbose', 'wait', 'nagios'] as const;

export async function supportBundles(
  dir: string,
  specs: HostSpec[],
  opts: Omit<BundleOptions, 'dir' | 'onDone'>,
  values: Values,
  out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  for (const o of CHECK_ONLY)
    if (values[o] !== undefined) throw inputError(`--${o}`, 'bad-usage', `does not go with --support-bundle, which fetches bundles and runs no check`);
  if (dir === '') throw inputError('--support-bundle', 'bad-usage', 'give the folder to write the bundles to');
  const { fetchBundles } = await import('../verify/support.js');
  const json = values.json === true;
  let res;
  try {
    res = await fetchBundles(specs, {
      ...opts,
      dir,
      onDone: (r, finished, total) => {
        if (json) return;
        const safe = (t: string) => displaySafe(t, MAX_FIELD_CHARS);
        const lines = [
          `${total > 1 ? `[${finished}/${total}] ` : ''}${safe(r.name)}: ${
            r.error ? `${r.error.kind.toUpperCase()}: ${safe(r.error.message)}` : `${safe(r.file!)} (${r.bytes} bytes) in ${(r.ms / 1000).toFixed(2)} s`
          }`,
          ...(r.error?.remedy ? [`  what to do: ${safe(r.error.remedy)}`] : []),
          ...(r.recordedHostKey ? [`  recorded host key ${safe(r.recordedHostKey)}`] : []),
        ];
        (r.error ? out.stderr : out.stdout).write(`${lines.join('\n')}\n`);
      },
    });
  } catch (err) {
    // The folder itself could not be made.
    throw inputError('--support-bundle', 'output-unwritable', `cannot create ${dir}: ${(err as Error).message}`);
  }
  if (json) out.stdout.write(`${JSON.stringify({ ok: res.exitCode === 0, exitCode: res.exitCode, hosts: displaySafeDeep(res.results) }, null, 2)}\n`);
  return res.exitCode;
}
