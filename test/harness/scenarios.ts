/**
 * The network scenarios the golden files cover: OVF properties + adapters, validated the way
 * provision validates them. Each scenario's whole plan (network files included) is golden in
 * test/golden/plan/<name>/ (test/unit/plan/golden.test.ts).
 */
import { validateProperties } from '../../src/config/validate.js';
import type { ApplianceConfig, OvfAdapter } from '../../src/config/types.js';
import { resolveNics, type LiveNic } from '../../src/facts/nics.js';
import type { NicAssignment } from '../../src/plan/types.js';
import { SEED_MACS, SEED_PROPERTIES } from './ovf.js';

export interface Scenario {
  name: string;
  what: string;
  properties: Record<string, string>;
  adapters: OvfAdapter[];
  /** The live NICs (kernel names): undefined as in the sandbox (--root), where nothing is renamed. */
  live?: LiveNic[];
}

const THREE: OvfAdapter[] = [{ mac: SEED_MACS.management }, { mac: SEED_MACS.workload }, { mac: SEED_MACS.frontend }];
const TWO: OvfAdapter[] = THREE.slice(0, 2);
const noFrontend = { 'network.frontend_ip': '', 'network.frontend_gateway': '' };

export const SCENARIOS: Scenario[] = [
  {
    name: 'seed-frontend',
    what: "the seed's 3-NIC appliance (examples/ovf-env.xml): VIPs 192.168.0.0/24 inside the workload /16",
    properties: SEED_PROPERTIES,
    adapters: THREE,
  },
  {
    name: 'default-2nic',
    what: 'the default deployment: management and workload only, VIPs on workload',
    properties: { ...SEED_PROPERTIES, ...noFrontend },
    adapters: TWO,
  },
  {
    name: 'dhcp-workload',
    what: 'workload by DHCP with an explicit gateway; NTP servers; VIPs outside every known subnet',
    properties: { ...SEED_PROPERTIES, ...noFrontend, 'network.workload_ip': '', 'network.ntp_servers': 'ntp1.example.com, 10.191.176.5' },
    adapters: TWO,
  },
  {
    name: 'dhcp-all',
    what: "every NIC by DHCP; management's gateway given, the others' from DHCP; no nameservers; single-label host name",
    properties: {
      ...SEED_PROPERTIES,
      'network.management_ip': '',
      'network.workload_ip': '',
      'network.workload_gateway': '',
      'network.frontend_ip': '',
      'network.frontend_gateway': '',
      'network.nameservers': '',
      'network.hostname': 'lb01',
    },
    adapters: THREE,
  },
  {
    name: 'additional-workload-networks',
    what: 'two additional workload networks routed through the workload gateway',
    properties: { ...SEED_PROPERTIES, ...noFrontend, 'network.additional_workload_networks': '10.50.0.0/16, 10.60.8.0/22' },
    adapters: TWO,
  },
  {
    name: 'service-ranges',
    what: 'four service ranges: in workload, in frontend, in management, outside every subnet',
    properties: {
      ...SEED_PROPERTIES,
      'loadbalance.service_ip_range': '192.168.0.0/24, 172.16.10.128/25, 10.191.180.0/24, 10.200.0.0/24',
    },
    adapters: THREE,
  },
  {
    name: 'static-routes',
    what: 'network.static_routes through each NIC (management: main table; workload, frontend: their table and main) and network.search_domains',
    properties: {
      ...SEED_PROPERTIES,
      'network.static_routes': '10.20.0.0/16 via 192.168.1.254, 172.16.5.0/24 via 172.16.10.254, 10.30.0.0/24 via 10.191.191.253',
      'network.search_domains': 'corp.example.com, Lab.Example.',
    },
    adapters: THREE,
  },
];

export function scenarioConfig(s: Scenario): ApplianceConfig {
  const result = validateProperties(s.properties, { adapterCount: s.adapters.length });
  if (!result.config) throw new Error(`scenario ${s.name} does not validate: ${JSON.stringify(result.problems)}`);
  return result.config;
}

export function scenarioNics(s: Scenario, config: ApplianceConfig): NicAssignment[] {
  return resolveNics({ deployment: config.deployment, adapters: s.adapters, ...(s.live && { live: s.live }) }).assignments;
}
