/**
 * The Data Plane API's model. Today's OVA ships 2.1, configured by flags only; 2.9 and 3.x read
 * /etc/haproxy/dataplaneapi.yaml and refuse the old style. The installed version is a fact
 * discovered before planning; this module chooses the form it takes, where it listens, and
 * whether it runs (src/render/dataplane.ts renders the unit and the yaml). Pure.
 */
import type { ApplianceConfig } from '../config/types.js';
import { DATAPLANEAPI_BIN } from '../appliance/paths.js';
import { warning, type Problem } from '../problems.js';

/** Seconds the API waits to batch changes into one reload (the seed runs 30). */
export const RELOAD_DELAY = 30;

/** `HAProxy Data Plane API v2.1.0 …` → [2, 1, 0]; undefined when no version is found. */
export function parseDataplaneVersion(output: string): [number, number, number] | undefined {
  const m = /\bv?(\d+)\.(\d+)(?:\.(\d+))?/u.exec(output);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** Whether that version reads dataplaneapi.yaml (2.9 and later) rather than flags. */
export function takesYaml(version: [number, number, number] | undefined): boolean {
  if (!version) return false;
  const [major, minor] = version;
  return major > 2 || (major === 2 && minor >= 9);
}

export interface DataplaneFacts {
  /** `dataplaneapi --version` output (or the version from elsewhere); undefined when the binary is missing. */
  versionOutput?: string;
  /** Why the version could not be known (the binary is there, but was not, or could not be, asked). */
  unknownReason?: string;
}

export interface DataplaneModel {
  /** False when the binary is missing: the unit is written but left disabled. */
  enable: boolean;
  /** Configured by flags in the unit (up to 2.8) or by dataplaneapi.yaml (2.9 and later). */
  form: 'flags' | 'yaml';
  /** The address the API serves TLS on (every address with DHCP on management). */
  tlsHost: string;
  port: number;
  /** Seconds the API waits to batch changes into one reload. */
  reloadDelay: number;
  /** The API's name (the host name). */
  name: string;
  warnings: Problem[];
}

export function dataplaneModel(config: ApplianceConfig, facts: DataplaneFacts): DataplaneModel {
  const warnings: Problem[] = [];
  const version = facts.versionOutput === undefined ? undefined : parseDataplaneVersion(facts.versionOutput);
  // With DHCP on management the address is not known here: listen on every address.
  const tlsHost = config.network.management.address?.address ?? '0.0.0.0';
  if (facts.versionOutput === undefined) {
    warnings.push(
      warning(
        DATAPLANEAPI_BIN,
        'dataplaneapi-missing',
        `the Data Plane API is not installed (${DATAPLANEAPI_BIN} is missing): everything else is applied and dataplaneapi.service is left disabled; install the binary in the image and provision again`,
      ),
    );
  } else if (!version && facts.unknownReason) {
    warnings.push(
      warning(
        '--dataplaneapi-version',
        'dataplaneapi-version-unknown',
        `the Data Plane API's version is unknown (${facts.unknownReason}): configuring it with flags (the 2.1 form); give --dataplaneapi-version to choose the form`,
      ),
    );
  } else if (!version) {
    warnings.push(
      warning(
        '--dataplaneapi-version',
        'dataplaneapi-version-unreadable',
        `could not read the Data Plane API's version from ${JSON.stringify(facts.versionOutput.trim().slice(0, 80))}; configuring it with flags (the 2.1 form)`,
      ),
    );
  }
  return {
    enable: facts.versionOutput !== undefined,
    form: takesYaml(version) ? 'yaml' : 'flags',
    tlsHost,
    port: config.loadbalance.dataplanePort,
    reloadDelay: RELOAD_DELAY,
    name: config.network.hostname,
    warnings,
  };
}
