/**
 * What planning needs to know of the machine (or the --root sandbox), read before planning:
 * the current haproxy.cfg and PKI files, the root-password marker, the Data Plane API's version,
 * whether systemd and VMware Tools are there. Also makes what must be new: crypt salts and, via
 * OpenSSL, any missing key material (src/facts/pki.ts: in the private work folder of the target
 * file system). Writes nothing else. When OpenSSL fails (or times out) the facts carry no key
 * material and `pkiFailure` says why: the rest of the run goes on without touching the PKI.
 *
 * Under --root every path is confined to the root and read only when it is a regular file, and
 * nothing from the root is ever executed: the Data Plane API's version comes from
 * --dataplaneapi-version, else the root's package database (/var/lib/dpkg/status), else it is
 * unknown (a warning; the flags form is rendered).
 */
import { randomBytes } from 'node:crypto';
import { access, lstat, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { ApplianceConfig } from '../config/types.js';
import type { ApplianceFacts, LiveContext } from './types.js';
import { DATAPLANEAPI_BIN, HAPROXY_CFG, PKI_PATHS, ROOT_AUTHORIZED_KEYS, ROOT_PASSWORD_MARKER } from '../appliance/paths.js';
import { preparePki, type KeyMaterialFailed } from './pki.js';
import { timeSyncWait, type PkiDecision } from '../plan/pki.js';
import { describeWait, timedatectlProbe, waitForTimeSync, type SyncProbe } from './time-sync.js';
import type { Problem } from '../problems.js';
import { confinedPath, readUnderRoot } from '../util/root.js';
import { run } from '../util/run.js';

/** An appliance path's content under the root (confined, regular files only), if it exists. */
async function readIfThere(root: string, path: string): Promise<string | undefined> {
  return (await readUnderRoot(root, path))?.content;
}

/** The dpkg database, where an image records the packages installed in it. */
export const DPKG_STATUS = '/var/lib/dpkg/status';
/** The package name of the Data Plane API's .deb (its releases' nfpm default). */
export const DATAPLANEAPI_PACKAGE = 'dataplaneapi';

/** The version of an installed package in a dpkg status file, if it is recorded as installed. */
export function dpkgVersion(status: string, pkg: string): string | undefined {
  for (const stanza of status.split(/\n\s*\n/u)) {
    const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'mu').exec(stanza)?.[1]?.trim();
    if (field('Package') !== pkg) continue;
    if (field('Status')?.split(/\s+/u)[2] !== 'installed') continue; // `install ok installed`, not half-installed or config-files
    return field('Version');
  }
  return undefined;
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** 16 characters of crypt's salt alphabet. */
export function newSalt(): string {
  const alphabet = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(16)].map((b) => alphabet[b & 63]).join('');
}

export interface DataplaneVersion {
  /** Version text (`--version` output, `v<given>`, or the package's version); undefined when not installed. */
  output?: string;
  /** Why the version is not known, when it is not. */
  unknown?: string;
}

/** Whether this machine is a VMware VM: DMI's system vendor, as VMware's hypervisors set it ("VMware, Inc."). */
async function onVmware(): Promise<boolean> {
  const vendor = await readFile('/sys/class/dmi/id/sys_vendor', 'utf8').catch(() => '');
  return /^VMware\b/u.test(vendor.trim());
}

/**
 * The Data Plane API's version. `given` (--dataplaneapi-version) wins. On the live system the
 * binary says it; under a root nothing is executed: the root's dpkg database is asked, and
 * failing that the version is unknown.
 */
export async function dataplaneVersion(root: string, given: string | undefined): Promise<DataplaneVersion> {
  if (given !== undefined) return { output: `v${given}` };
  if (root === '/') {
    if (!(await executable(DATAPLANEAPI_BIN))) return {};
    const r = await run([DATAPLANEAPI_BIN, '--version'], { timeoutMs: 10_000 });
    const out = `${r.stdout}\n${r.stderr}`.trim();
    return out ? { output: out } : { output: 'unknown', unknown: `${DATAPLANEAPI_BIN} --version said nothing` };
  }
  const bin = await confinedPath(root, DATAPLANEAPI_BIN);
  const st = await lstat(bin).catch(() => undefined);
  if (!st?.isFile()) return {};
  const status = await readIfThere(root, DPKG_STATUS);
  const version = status === undefined ? undefined : dpkgVersion(status, DATAPLANEAPI_PACKAGE);
  if (version) return { output: `${DATAPLANEAPI_PACKAGE} ${version} (${DPKG_STATUS})` };
  return {
    output: 'unknown',
    unknown: `with --root nothing from the image is run, and ${DPKG_STATUS} in it records no ${DATAPLANEAPI_PACKAGE} package`,
  };
}

/** Whether systemd has finished booting (`systemctl is-system-running`: running or degraded). */
async function systemUp(): Promise<boolean> {
  const r = await run(['systemctl', 'is-system-running'], { timeoutMs: 10_000 });
  return ['running', 'degraded'].includes(r.stdout.trim());
}

export interface GatheredFacts {
  facts: ApplianceFacts;
  /** What was made for the PKI and why (a CA generated, server.crt issued), and the clock's wait: notes for the admin. */
  notes: string[];
  /** Warnings about the machine: the clock not synchronised in time before certificates were made. */
  warnings: Problem[];
  /**
   * Key material the decision needed could not be made: `facts.pki` is then absent (the PKI files
   * are left as they are) and the run reports this at its end (exit 1), after applying the rest.
   */
  pkiFailure?: KeyMaterialFailed;
  context: LiveContext;
}

export interface FactsOptions {
  boot: boolean;
  now?: Date;
  /** `--dataplaneapi-version`: the Data Plane API's version, as given (e.g. `2.1.0`). */
  dataplaneVersion?: string;
  /** Asks whether the clock is synchronised (tests give their own); default: timedatectl. */
  timeSyncProbe?: SyncProbe;
}

/** The link `systemctl enable dataplaneapi.service` makes (its unit says WantedBy=multi-user.target). */
const API_UNIT_WANTS = '/etc/systemd/system/multi-user.target.wants/dataplaneapi.service';

export async function gatherFacts(config: ApplianceConfig, root: string, options: FactsOptions): Promise<GatheredFacts> {
  const read = (p: string) => readIfThere(root, p);
  const [haproxyCfg, rootPasswordMarker, authorizedKeys, caCert, caKey, serverCert, serverKey, dataplane] = await Promise.all([
    read(HAPROXY_CFG),
    read(ROOT_PASSWORD_MARKER),
    read(ROOT_AUTHORIZED_KEYS),
    read(PKI_PATHS.caCert),
    read(PKI_PATHS.caKey),
    read(PKI_PATHS.serverCert),
    read(PKI_PATHS.serverKey),
    dataplaneVersion(root, options.dataplaneVersion),
  ]);
  const pkiFacts = {
    ...(caCert !== undefined && { caCert }),
    ...(caKey !== undefined && { caKey }),
    ...(serverCert !== undefined && { serverCert }),
    ...(serverKey !== undefined && { serverKey }),
    now: options.now ?? new Date(),
  };
  const live = root === '/';
  const systemd =
    live &&
    (await access('/run/systemd/system').then(
      () => true,
      () => false,
    ));
  const context: LiveContext = {
    // `--boot` from the unit: at boot the services start after the agent; but once the system is
    // up (an admin's `systemctl restart haproxy-appliance`) it is a rerun that reloads what changed.
    boot: options.boot && !(systemd && (await systemUp())),
    systemd,
    // Only in a VMware VM: elsewhere (the same image under QEMU or KVM) vmtoolsd is installed but
    // has no guestinfo to write to, and publishing would fail the run.
    vmtoolsd: live && (await onVmware()) && ((await executable('/usr/bin/vmtoolsd')) || (await executable('/usr/sbin/vmtoolsd'))),
  };
  const clockNotes: string[] = [];
  const warnings: Problem[] = [];
  // Before certificates are made, where NTP servers are set and timesyncd can run: a short wait
  // for the clock (a timeout is a warning; never at boot, never in a sandbox).
  const beforeMaking = async (decision: PkiDecision): Promise<void> => {
    if (!timeSyncWait(config, decision, { live, systemd, boot: context.boot }).wait) return;
    const said = describeWait(await waitForTimeSync(options.timeSyncProbe ?? timedatectlProbe));
    if (said.note) clockNotes.push(said.note);
    if (said.warning) warnings.push(said.warning);
  };
  // Keys are made on the target file system, in its private work folder (a failure is not fatal: see preparePki).
  const pki = await preparePki(config, root, pkiFacts, { beforeMaking });
  // Run by the first-boot unit (Type=notify), at boot or by `systemctl restart`: it must say ready.
  if (systemd && process.env.NOTIFY_SOCKET) context.notifyReady = true;
  if (context.boot && context.notifyReady) {
    context.apiUnitEnabled = await lstat(API_UNIT_WANTS).then(
      () => true,
      () => false,
    );
  }
  return {
    facts: {
      ...(haproxyCfg !== undefined && { haproxyCfg }),
      ...(rootPasswordMarker !== undefined && { rootPasswordMarker }),
      ...(authorizedKeys !== undefined && { authorizedKeys }),
      ...(dataplane.output !== undefined && { dataplaneVersionOutput: dataplane.output }),
      ...(dataplane.unknown !== undefined && { dataplaneVersionUnknown: dataplane.unknown }),
      ...(pki.material ? { pki: pki.material } : pki.kept && { pkiKept: pki.kept }),
      salts: { userlist: newSalt(), root: newSalt() },
    },
    notes: [...clockNotes, ...pki.notes],
    warnings,
    ...(pki.failure && { pkiFailure: pki.failure }),
    context,
  };
}
