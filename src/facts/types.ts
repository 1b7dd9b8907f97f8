/**
 * What the facts stage hands to planning: the machine as it is (read under the run lock) and what
 * had to be made before planning (salts, key material). Types only: planning imports them without
 * importing anything that reads the machine.
 */

/** A certificate and its private key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** The PKI files on disk (PEM text, when there) and the time decisions are made at. */
export interface PkiFacts {
  caCert?: string;
  caKey?: string;
  serverCert?: string;
  serverKey?: string;
  now: Date;
}

/** The CA and server key pairs to install (given, kept, or newly made). */
export interface PkiMaterial {
  ca: KeyPair;
  server: KeyPair;
}

/** What of the PKI on disk stays in use when no new key material could be made (src/plan/pki.ts, keptPki). */
export interface KeptPki {
  /** The CA certificate on disk, kept as it is and in use: published. */
  caCert?: string;
  /** server.crt and server.key are both there (the Data Plane API can start with them). */
  serverKeyPair: boolean;
}

/** What planning needs to know of the machine, read (and made) before it. */
export interface ApplianceFacts {
  /** The current haproxy.cfg, whose Data Plane API sections are kept. */
  haproxyCfg?: string;
  /** The crypt of the root password property applied last time. */
  rootPasswordMarker?: string;
  /** root's authorized_keys, whose lines outside the agent's block are kept. */
  authorizedKeys?: string;
  /** `dataplaneapi --version` output (or the version from elsewhere); undefined when the binary is missing. */
  dataplaneVersionOutput?: string;
  /** Why the Data Plane API's version is not known (with --root nothing from the image is run). */
  dataplaneVersionUnknown?: string;
  /**
   * The CA and server key pairs to install (given, kept, or newly made). Absent when new key
   * material was needed but could not be made: then no PKI file is planned (each is left exactly
   * as it is, or absent), and `pkiKept` says what of the PKI on disk stays in use.
   */
  pki?: PkiMaterial;
  /** Without `pki`: the CA on disk still in use (published), and whether the API's key pair is there. Absent: neither. */
  pkiKept?: KeptPki;
  /** Fresh crypt salts, used only where a new hash is needed. */
  salts: { userlist: string; root: string };
}

/**
 * How the live system is run: at boot (before networkd) or by an admin; with systemd or not. Read
 * by the facts stage, acted on by apply's live steps.
 */
export interface LiveContext {
  /** `provision --boot` (the first-boot unit): services start after the agent, so none is reloaded. */
  boot: boolean;
  /** systemd is PID 1 (/run/systemd/system exists); without it no systemctl/networkctl runs. */
  systemd: boolean;
  /** vmtoolsd is installed and this is a VMware VM (DMI's system vendor): the CA is published to guestinfo. */
  vmtoolsd: boolean;
  /**
   * Run by a unit of Type=notify (NOTIFY_SOCKET is set): the agent must tell systemd it is ready.
   * At boot it does so once what the boot's services read is in place, and finishes the rest while
   * they start; otherwise (`systemctl restart haproxy-appliance`) at its end.
   */
  notifyReady?: boolean;
  /** dataplaneapi.service is enabled (it is part of this boot and starts after the agent is ready). */
  apiUnitEnabled?: boolean;
}
