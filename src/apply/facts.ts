/**
 * What planning needs to know of the machine (or the --root sandbox), read before planning:
 * the current haproxy.cfg and PKI files, the root-password marker, the Data Plane API's version,
 * whether systemd and VMware Tools are there. Also makes what must be new: crypt salts and, via
 * OpenSSL, any missing key material. Reads and computes; writes nothing.
 */
import { randomBytes } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { ApplianceConfig } from '../config/types.js';
import type { ApplianceFacts } from '../plan/plan.js';
import { HAPROXY_CFG } from '../haproxy/plan.js';
import { ROOT_PASSWORD_MARKER } from '../access/plan.js';
import { DATAPLANEAPI_BIN } from '../dataplane/plan.js';
import { PKI_PATHS, decidePki, materializePki, type PkiDecision } from '../pki/plan.js';
import { underRoot } from './files.js';
import { run } from '../util/run.js';
import type { LiveContext } from './live.js';

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(() => true, () => false);
}

/** 16 characters of crypt's salt alphabet. */
export function newSalt(): string {
  const alphabet = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(16)].map((b) => alphabet[b & 63]).join('');
}

async function dataplaneVersion(bin: string): Promise<string | undefined> {
  if (!(await executable(bin))) return undefined;
  const r = await run([bin, '--version'], { timeoutMs: 10_000 });
  // Present but it would not say its version (another architecture in an image root): the flags form.
  return `${r.stdout}\n${r.stderr}`.trim() || 'unknown';
}

/** Whether systemd has finished booting (`systemctl is-system-running`: running or degraded). */
async function systemUp(): Promise<boolean> {
  const r = await run(['systemctl', 'is-system-running'], { timeoutMs: 10_000 });
  return ['running', 'degraded'].includes(r.stdout.trim());
}

export interface GatheredFacts {
  facts: ApplianceFacts;
  pkiDecision: PkiDecision;
  context: LiveContext;
}

export async function gatherFacts(config: ApplianceConfig, root: string, options: { boot: boolean; now?: Date }): Promise<GatheredFacts> {
  const at = (p: string) => underRoot(root, p);
  const [haproxyCfg, rootPasswordMarker, caCert, caKey, serverCert, serverKey, dataplaneVersionOutput] = await Promise.all([
    readIfThere(at(HAPROXY_CFG)),
    readIfThere(at(ROOT_PASSWORD_MARKER)),
    readIfThere(at(PKI_PATHS.caCert)),
    readIfThere(at(PKI_PATHS.caKey)),
    readIfThere(at(PKI_PATHS.serverCert)),
    readIfThere(at(PKI_PATHS.serverKey)),
    dataplaneVersion(at(DATAPLANEAPI_BIN)),
  ]);
  const pkiFacts = {
    ...(caCert !== undefined && { caCert }),
    ...(caKey !== undefined && { caKey }),
    ...(serverCert !== undefined && { serverCert }),
    ...(serverKey !== undefined && { serverKey }),
    now: options.now ?? new Date(),
  };
  const pkiDecision = decidePki(config, pkiFacts);
  const pki = await materializePki(config, pkiFacts, pkiDecision);
  const live = root === '/';
  const systemd = live && (await access('/run/systemd/system').then(() => true, () => false));
  const context: LiveContext = {
    // `--boot` from the unit: at boot the services start after the agent; but once the system is
    // up (an admin's `systemctl restart haproxy-appliance`) it is a rerun that reloads what changed.
    boot: options.boot && !(systemd && (await systemUp())),
    systemd,
    vmtoolsd: live && ((await executable('/usr/bin/vmtoolsd')) || (await executable('/usr/sbin/vmtoolsd'))),
  };
  return {
    facts: {
      ...(haproxyCfg !== undefined && { haproxyCfg }),
      ...(rootPasswordMarker !== undefined && { rootPasswordMarker }),
      ...(dataplaneVersionOutput !== undefined && { dataplaneVersionOutput }),
      pki,
      salts: { userlist: newSalt(), root: newSalt() },
    },
    pkiDecision,
    context,
  };
}

/**
 * `haproxy -c -f <candidate>`: the real haproxy judges a candidate before it goes live. Without
 * haproxy installed that is a failure on the appliance, and skipped in a sandbox (an image build
 * host need not have haproxy).
 */
export function haproxyChecker(required: boolean) {
  return async (_kind: 'haproxy', file: string): Promise<string | undefined> => {
    const r = await run(['haproxy', '-c', '-f', file]);
    if (r.notFound) return required ? 'haproxy is not installed, so the configuration cannot be checked' : undefined;
    if (r.exitCode === 0) return undefined;
    const alerts = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /ALERT|error/iu.test(l)).map((l) => l.trim()).slice(0, 5);
    return alerts.join('; ') || `haproxy -c exited ${r.exitCode}`;
  };
}
