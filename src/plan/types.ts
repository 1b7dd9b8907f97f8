/**
 * What planning produces: the desired files and actions for one appliance, as data. Planning is a
 * pure function of the validated configuration and the NICs; only the apply stage acts on it.
 */
import type { Problem } from '../problems.js';
import type { NicRole } from '../config/types.js';

/** Services a file can affect; apply reloads or restarts only those whose files changed. */
export type Service =
  | 'systemd-networkd'
  | 'systemd-resolved'
  | 'systemd-timesyncd'
  | 'hostname'
  | 'haproxy'
  | 'dataplaneapi'
  | 'ssh'
  /** The system trust store (update-ca-certificates). */
  | 'ca-certificates';

export interface DesiredFile {
  /** Absolute path on the appliance, e.g. `/etc/systemd/network/10-management.network`. */
  path: string;
  content: string;
  /** File mode, e.g. 0o644; private keys and secrets 0o600. */
  mode: number;
  /**
   * The mode of the file's folder when it must be private (root's `.ssh`: 0700): made with it when
   * missing, and set to it when it is there. Unset: parents are made 0755 and left as they are.
   */
  dirMode?: number;
  /** Holds a secret: never printed in a diff, never world-readable. */
  secret?: boolean;
  /** The services that must be reloaded when this file changes. */
  affects: Service[];
  /**
   * The network interfaces this file configures (a .network unit): on the live system apply has
   * networkd reconfigure them when the file changes.
   */
  interfaces?: string[];
  /** Checked before it replaces the live file: `haproxy -c -f <candidate>`. */
  check?: 'haproxy';
  /**
   * The content is a merge with what is on disk (haproxy.cfg: the agent's sections around the Data
   * Plane API's): `base` is the text it was merged from (undefined: there was no file), and
   * `remerge` merges again from what is there now. Apply replaces the file only while it still is
   * `base` (compare-and-swap), and merges again when another writer changed it meanwhile.
   */
  merge?: { base: string | undefined; remerge: (current: string | undefined) => string };
}

/** A NIC the planner assigns a role to. */
export interface NicAssignment {
  role: NicRole;
  /** Lower-case MAC, e.g. `00:50:56:b1:20:5e`. */
  mac: string;
  /** The kernel's current name when known (`eth0`, `ens192`, or already `management`). */
  currentName?: string;
}

export interface Plan {
  files: DesiredFile[];
  /** Live NICs to rename to their role name now (first boot); empty in sandbox mode. */
  renames: { from: string; to: NicRole }[];
  /** Files the agent owns that must be removed (e.g. a service range's unit that is gone). */
  remove: string[];
  /** Whether dataplaneapi.service is enabled (false when the binary is missing). */
  dataplaneEnabled?: boolean;
  /**
   * Why the Data Plane API is neither enabled nor started nor restarted by this run, though its
   * unit and configuration are written: its certificate is not there (it could not be made). The
   * run that makes it enables and starts the API.
   */
  dataplaneHeld?: string;
  /**
   * The root password to set (`root:<SHA-512 crypt>` for `chpasswd -e`), and the marker that
   * records it; the marker is written only after chpasswd succeeded.
   */
  rootPassword?: { chpasswdLine: string; markerPath: string; marker: string };
  /** The CA certificate (PEM) to publish to guestinfo.dataplaneapi.cacert, base64, every run. */
  publishCa?: string;
  /** Warnings of planning (severity `warning`), about the machine's facts. */
  warnings?: Problem[];
}
