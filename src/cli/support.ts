/**
 * `haproxy-appliance support [--output FILE|-] [--root DIR] [--ovf-env FILE]`: the support
 * bundle of this appliance (src/support/), a `.tar.gz` with summary.txt first, secrets removed,
 * bounded in size. Written 0600 to FILE (default
 * /var/tmp/haproxy-appliance-support-HOST-TIME.tar.gz), or to stdout with `--output -` (what
 * `verify --support-bundle` runs over SSH). Exit: 0 written, 2 usage or not root.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { inputError, InputError } from '../errors.js';
import type { Values } from './command.js';
import type { OvfEnvironment } from '../config/types.js';
import { VERSION } from './version.js';

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** `20261202T063000Z`: the bundle's time in its default file name. */
export function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/gu, '')
    .replace(/\.\d+Z$/u, 'Z');
}

export function defaultOutput(host: string, time: Date): string {
  return `/var/tmp/haproxy-appliance-support-${host.replace(/[^A-Za-z0-9._-]+/gu, '_')}-${stamp(time)}.tar.gz`;
}

type Io = { stdout?: NodeJS.WritableStream & { isTTY?: boolean }; stderr?: NodeJS.WritableStream; uid?: number };

export async function supportCommand(values: Values, io: Io = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const root = str(values.root);
  const ovfEnv = str(values['ovf-env']);
  const output = str(values.output);
  const uid = io.uid ?? process.getuid?.() ?? 0;
  if (root === undefined && uid !== 0) {
    const message = 'run it as root: it reads root-only files (haproxy.cfg, state.json, the journals)';
    throw inputError('COMMAND', 'needs-root', message, message);
  }
  if (output === '-' && (stdout as { isTTY?: boolean }).isTTY) {
    throw inputError('--output', 'bad-usage', 'refusing to write the compressed bundle to a terminal; redirect it, or give a file');
  }
  if (root !== undefined) {
    const isDir = await stat(root).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isDir) throw inputError('--root', 'not-directory', `${root} is not a directory`);
  }
  const t0 = performance.now();
  const time = new Date();
  const host = hostname();
  const [{ collectItems, DEFAULT_LIMITS }, { packBundle }, { secretNeedles }, { environmentListing, secretValues }] = await Promise.all([
    import('../support/collect.js'),
    import('../support/bundle.js'),
    import('../support/redact.js'),
    import('../support/environment.js'),
  ]);

  // The secret values to scrub: from --ovf-env (read first: a file that cannot be read is a usage
  // error, nothing written), else, on the live system, from the transports provision reads,
  // beside the collection (guestinfo and the CD-ROM take their time).
  const readEnv = async (): Promise<{ env?: OvfEnvironment; envError?: string }> => {
    if (ovfEnv === undefined && root !== undefined) return { envError: 'under --root only --ovf-env is read; none was given' };
    try {
      const { readOvfEnvironment } = await import('../ingest/transports.js');
      return { env: await readOvfEnvironment(ovfEnv !== undefined ? { file: ovfEnv } : {}) };
    } catch (err) {
      if (ovfEnv !== undefined) throw err;
      return { envError: err instanceof InputError ? err.problems[0].message : (err as Error).message };
    }
  };
  const given = ovfEnv !== undefined ? await readEnv() : undefined;
  const limits = DEFAULT_LIMITS;
  const [{ env, envError }, items] = await Promise.all([given ?? readEnv(), collectItems({ ...(root !== undefined && { root }), limits })]);
  const values_ = env ? await secretValues(env) : [];
  const { needles, skipped } = secretNeedles(values_);
  if (env) items.splice(1, 0, { name: 'ovf-environment.txt', text: environmentListing(env), source: env.source, notes: [], removed: 0 });
  const bundle = packBundle(
    items,
    {
      host,
      time,
      version: VERSION,
      ...(root !== undefined && { root }),
      secrets: {
        ...(env && { source: env.source }),
        properties: [...new Set(values_.map((v) => v.property))],
        ...(envError !== undefined && { error: envError }),
        skipped,
      },
      collectMs: performance.now() - t0,
    },
    limits,
    needles,
  );

  if (output === '-') {
    await new Promise<void>((resolve, reject) => stdout.write(bundle.gz, (err) => (err ? reject(err) : resolve())));
    return 0;
  }
  const file = output ?? defaultOutput(host, time);
  let fh;
  try {
    // The default name is new (O_EXCL: no link planted in /var/tmp is followed); a given file may be replaced.
    fh = await open(file, constants.O_WRONLY | constants.O_CREAT | (output === undefined ? constants.O_EXCL : constants.O_TRUNC) | constants.O_NOFOLLOW, 0o600);
    await fh.chmod(0o600);
    await fh.writeFile(bundle.gz);
  } catch (err) {
    throw inputError('--output', 'output-unwritable', `cannot write ${file}: ${(err as Error).message}`);
  } finally {
    await fh?.close();
  }
  stderr.write(
    `haproxy-appliance support: wrote ${file} (${bundle.gz.length} bytes, ${bundle.members.length} files, ${((performance.now() - t0) / 1000).toFixed(2)} s); summary.txt says what it holds and what was removed\n`,
  );
  return 0;
}
