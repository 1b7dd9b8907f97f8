/**
 * Which NIC is management, workload and frontend: identified by MAC, from the first source that
 * names any NIC, in this order of precedence:
 *
 *   1. `--nics management=MAC,workload=MAC[,frontend=MAC]` on the command line;
 *   2. `NICS=…` (same form) in the agent's config, /etc/default/haproxy-appliance — an explicit
 *      override wins over everything the agent would guess;
 *   3. the OVF environment's adapters in `ve:unitNumber` order (management, workload, frontend);
 *   4. live interfaces already named management/workload/frontend (a later boot);
 *   5. live interfaces in the OVA's PCI slots (0000:03:00.0, 0000:0b:00.0, 0000:13:00.0).
 *
 * Sources 4 and 5 exist only on the live system; the sandbox (`--root`) uses 1-3. The chosen
 * source must name exactly the deployment's roles: a NIC count that does not match the
 * deployment is an InputError that says which source said what. Pure: the live NICs are an input
 * (see discover.ts).
 */
import { inputError, type InputError } from '../errors.js';
import { warning, type Problem, type ProblemCode } from '../problems.js';
import { NIC_ROLES, type Deployment, type NicRole, type OvfAdapter } from '../config/types.js';
import type { NicAssignment } from '../plan/types.js';
import { PCI_SLOT } from '../appliance/network-scheme.js';

/** A network interface as the kernel shows it (/sys/class/net). */
export interface LiveNic {
  name: string;
  /** Lower-case MAC. */
  mac: string;
  /** `0000:03:00.0` for a PCI device. */
  pciSlot?: string;
  /** Backed by hardware (has /sys/class/net/NAME/device); false for veth, bridges, tunnels. */
  physical: boolean;
}

export interface NicSources {
  deployment: Deployment;
  /** `--nics` as given. */
  cliOverride?: string;
  /** `NICS=` from the agent's config, with the file it came from. */
  agentOverride?: { value: string; file: string };
  adapters: OvfAdapter[];
  /** Ethernet interfaces of the live system; undefined in the sandbox. */
  live?: LiveNic[];
}

export interface ResolvedNics {
  /** Which source identified the NICs, for messages and the JSON output. */
  source: string;
  /** In role order (management, workload[, frontend]). */
  assignments: NicAssignment[];
  warnings: Problem[];
}

/** An InputError whose message says it all (it names its subject): the headline is the message. */
function refuse(at: string, code: ProblemCode, message: string): InputError {
  return inputError(at, code, message, message);
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/u;

export function deploymentRoles(deployment: Deployment): NicRole[] {
  return deployment === 'frontend' ? ['management', 'workload', 'frontend'] : ['management', 'workload'];
}

function describeRoles(deployment: Deployment): string {
  const roles = deploymentRoles(deployment);
  return `the ${deployment} deployment has ${roles.length} NICs (${roles.join(', ')})`;
}

/** `00-50-56-B1-20-5E` or `00:50:56:b1:20:5e` → `00:50:56:b1:20:5e`; undefined if not a MAC. */
export function normalizeMac(text: string): string | undefined {
  const mac = text.trim().toLowerCase().replace(/-/gu, ':');
  return MAC.test(mac) ? mac : undefined;
}

/**
 * Parses `management=MAC,workload=MAC[,frontend=MAC]` (commas or spaces between items). Throws an
 * InputError naming `origin` for anything else.
 */
export function parseNicsSpec(text: string, origin: string): Map<NicRole, string> {
  const map = new Map<NicRole, string>();
  const items = text.split(/[\s,]+/u).filter((s) => s !== '');
  if (items.length === 0) throw inputError(origin, 'nics-empty', `is empty; use management=MAC,workload=MAC[,frontend=MAC]`);
  for (const item of items) {
    const eq = item.indexOf('=');
    const role = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    if (eq < 0) throw inputError(origin, 'nics-not-role-mac', `${JSON.stringify(item)} is not ROLE=MAC; use management=MAC,workload=MAC[,frontend=MAC]`);
    if (!(NIC_ROLES as readonly string[]).includes(role)) {
      throw inputError(origin, 'nics-unknown-role', `${JSON.stringify(role)} is not a NIC role; the roles are ${NIC_ROLES.join(', ')}`);
    }
    const mac = normalizeMac(item.slice(eq + 1));
    if (!mac) throw inputError(origin, 'not-mac', `${JSON.stringify(item.slice(eq + 1))} (${role}) is not a MAC address like 00:50:56:b1:20:5e`);
    if (map.has(role as NicRole)) throw inputError(origin, 'nics-role-twice', `${role} is given twice`);
    map.set(role as NicRole, mac);
  }
  return map;
}

interface Candidate {
  source: string;
  map: Map<NicRole, string>;
  /** Named explicitly by the admin (--nics, NICS=) rather than inferred. */
  override?: boolean;
}

function fromAdapters(adapters: OvfAdapter[], deployment: Deployment): Candidate | undefined {
  if (adapters.length === 0) return undefined;
  const roles = deploymentRoles(deployment);
  if (adapters.length !== roles.length) {
    throw refuse(
      'EthernetAdapterSection',
      'adapter-count',
      `the OVF environment lists ${adapters.length} network adapter${adapters.length === 1 ? '' : 's'}, but ${describeRoles(deployment)}; ` +
        'deploy the OVA with the matching deployment configuration, or name the NICs with --nics',
    );
  }
  return { source: "the OVF environment's adapters (in unit-number order)", map: new Map(roles.map((r, i) => [r, adapters[i]!.mac])) };
}

function fromLiveNames(live: LiveNic[]): Candidate | undefined {
  const map = new Map<NicRole, string>();
  for (const nic of live) if ((NIC_ROLES as readonly string[]).includes(nic.name)) map.set(nic.name as NicRole, nic.mac);
  return map.size ? { source: 'interfaces already named by role', map } : undefined;
}

function fromPciSlots(live: LiveNic[]): Candidate | undefined {
  const map = new Map<NicRole, string>();
  for (const role of NIC_ROLES) {
    const nic = live.find((n) => n.pciSlot === PCI_SLOT[role]);
    if (nic) map.set(role, nic.mac);
  }
  return map.size ? { source: "the OVA's PCI slots", map } : undefined;
}

function pick(input: NicSources): Candidate | undefined {
  if (input.cliOverride !== undefined) return { source: '--nics', map: parseNicsSpec(input.cliOverride, '--nics'), override: true };
  if (input.agentOverride) {
    const origin = `NICS in ${input.agentOverride.file}`;
    return { source: origin, map: parseNicsSpec(input.agentOverride.value, origin), override: true };
  }
  const ovf = fromAdapters(input.adapters, input.deployment);
  if (ovf) return ovf;
  if (input.live) return fromLiveNames(input.live) ?? fromPciSlots(input.live);
  return undefined;
}

const describeLive = (live: LiveNic[]) => (live.length ? live.map((n) => `${n.name} ${n.mac}`).join(', ') : 'none');

/** Picks the NIC identities and checks them against the deployment and the live NICs. */
export function resolveNics(input: NicSources): ResolvedNics {
  const roles = deploymentRoles(input.deployment);
  const warnings: Problem[] = [];
  const chosen = pick(input);
  if (!chosen) {
    const tried = input.live
      ? `the OVF environment lists no network adapters, no interface is named ${NIC_ROLES.join('/')}, and none sits in the OVA's PCI slots (live: ${describeLive(input.live)})`
      : 'the OVF environment lists no network adapters';
    throw refuse(
      '--nics',
      'nics-unknown',
      `cannot tell which NIC is which: ${tried}; name them with --nics management=MAC,workload=MAC${input.deployment === 'frontend' ? ',frontend=MAC' : ''} or NICS= in /etc/default/haproxy-appliance`,
    );
  }
  const { source, map, override } = chosen;

  const missing = roles.filter((r) => !map.has(r));
  const extra = [...map.keys()].filter((r) => !roles.includes(r));
  if (missing.length || extra.length) {
    const named = [...map.keys()];
    throw refuse(
      source,
      'nics-roles-mismatch',
      `${source} names ${named.length} NIC${named.length === 1 ? '' : 's'} (${named.join(', ')}), but ${describeRoles(input.deployment)}` +
        `${missing.length ? `; missing: ${missing.join(', ')}` : ''}${extra.length ? `; not in this deployment: ${extra.join(', ')}` : ''}`,
    );
  }
  const seen = new Map<string, NicRole>();
  for (const role of roles) {
    const mac = map.get(role)!;
    const other = seen.get(mac);
    if (other) throw inputError(source, 'nics-mac-twice', `${mac} is given for both ${other} and ${role}; each NIC has its own MAC`);
    seen.set(mac, role);
  }

  const assignments: NicAssignment[] = roles.map((role) => ({ role, mac: map.get(role)! }));
  if (!input.live) return { source, assignments, warnings };

  // The live system: every role's MAC must be here, and the machine must have as many NICs.
  const live = input.live;
  for (const a of assignments) {
    const nic = live.find((n) => n.mac === a.mac);
    if (!nic) {
      throw refuse(
        source,
        'nic-mac-unknown',
        `the ${a.role} NIC ${a.mac} (from ${source}) is not on this machine; its Ethernet interfaces are: ${describeLive(live)}`,
      );
    }
    a.currentName = nic.name;
  }
  const physical = live.filter((n) => n.physical);
  if (physical.length > 0 && physical.length !== roles.length) {
    const message = `this machine has ${physical.length} NICs (${physical.map((n) => n.name).join(', ')}), but ${describeRoles(input.deployment)}`;
    if (override) warnings.push(warning(source, 'nic-count', `${message}; going by ${source}`));
    else throw refuse(source, 'nic-count', `${message}; redeploy with the matching deployment configuration or name the NICs with --nics`);
  }
  const assignedMacs = new Set(assignments.map((a) => a.mac));
  for (const nic of live) {
    if ((NIC_ROLES as readonly string[]).includes(nic.name) && !assignedMacs.has(nic.mac)) {
      throw refuse(
        nic.name,
        'nic-name-taken',
        `interface ${nic.name} (${nic.mac}) holds a role name but is not the ${nic.name} NIC according to ${source}; rename it first`,
      );
    }
  }
  return { source, assignments, warnings };
}
