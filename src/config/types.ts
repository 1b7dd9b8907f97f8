/**
 * The validated, normalized appliance configuration: the one value every later stage
 * (plan, render, apply, verify) works from. Produced by `validateProperties()`.
 */

/** The OVF deployment options: `default` has 2 NICs, `frontend` 3. */
export type Deployment = 'default' | 'frontend';

/** The roles the appliance's NICs play, in the descriptor's NIC order. */
export const NIC_ROLES = ['management', 'workload', 'frontend'] as const;
export type NicRole = (typeof NIC_ROLES)[number];

/** An IPv4 interface address with its prefix, e.g. 10.191.181.52/20. */
export interface StaticAddress {
  /** The host address, e.g. `10.191.181.52`. */
  address: string;
  /** The prefix length, e.g. `20`. */
  prefix: number;
  /** `address/prefix`, e.g. `10.191.181.52/20`. */
  cidr: string;
  /** The network in CIDR form, e.g. `10.191.176.0/20`. */
  network: string;
}

/** One static route: `destination via gateway`. */
export interface StaticRoute {
  destination: string;
  gateway: string;
}

/** One NIC's IP configuration: static (`address` set) or DHCP (`address` undefined). */
export interface NicConfig {
  role: NicRole;
  /** Undefined means DHCP. */
  address?: StaticAddress;
  /** The gateway of that network; for management it is the appliance's default gateway. */
  gateway?: string;
}

export interface ApplianceConfig {
  deployment: Deployment;
  appliance: {
    /** Secret. Undefined: leave the image's root password as it is. */
    rootPassword?: string;
    /**
     * sshd's PermitRootLogin: true (yes), false (no) or `prohibit-password` (keys only). The
     * boolean is today's property; state files of older agents hold it.
     */
    permitRootLogin: boolean | 'prohibit-password';
    /** OpenSSH public keys for root, one authorized_keys line each (canonical: `TYPE BASE64 [COMMENT]`); may be empty. */
    sshAuthorizedKeys: string[];
    /** Canonical PEM, or undefined to have the agent generate a CA. */
    caCert?: string;
    /** Secret. Canonical PEM; set exactly when caCert is. */
    caKey?: string;
  };
  network: {
    hostname: string;
    nameservers: string[];
    ntpServers: string[];
    management: NicConfig;
    workload: NicConfig;
    /** Present only in the `frontend` deployment. */
    frontend?: NicConfig;
    /** Network CIDRs (host bits clear) routed through the workload gateway. */
    additionalWorkloadNetworks: string[];
    /**
     * `network.static_routes`: each network (CIDR, host bits clear) via a gateway that lies in a
     * static NIC's subnet (that NIC carries the route; src/plan/network.ts places it).
     */
    staticRoutes: StaticRoute[];
    /** `network.search_domains`, lower case; empty: the domain of the host name. */
    searchDomains: string[];
  };
  loadbalance: {
    /** Network CIDRs (host bits clear) whose every address the appliance answers for. */
    serviceIpRanges: string[];
    dataplanePort: number;
    haproxyUser: string;
    /** Secret. */
    haproxyPassword: string;
  };
}

/** One NIC as the OVF environment's EthernetAdapterSection lists it. */
export interface OvfAdapter {
  mac: string;
  network?: string;
  unitNumber?: number;
}

/** What ingest produces: raw property strings plus the adapters, before validation. */
export interface OvfEnvironment {
  /** Where the document came from, e.g. `file /tmp/ovf-env.xml` or `guestinfo (vmtoolsd)`. */
  source: string;
  properties: Record<string, string>;
  /** In `ve:unitNumber` order (the descriptor's NIC order). */
  adapters: OvfAdapter[];
}

/** One problem or warning about the input; see src/problems.ts. */
export type { Problem } from '../problems.js';
