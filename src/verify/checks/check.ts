/**
 * What a check is: data in the registry (`index.ts`) — an id, the family it belongs to, what it
 * checks in plain words (docs/verify.md's table is generated from these), and `run`, a pure
 * function from its input to its results. Everything a check reads is passed in: the input, the
 * network model and the SSH port (`CheckContext`), and the results of the checks it `needs`.
 */
import type { NetworkModel } from '../../plan/network.js';
import { expectedModel } from '../expected.js';
import type { CheckInput, CheckResult } from '../types.js';

/** The five families, in report order, with the heading docs/verify.md gives each. */
export const FAMILIES = {
  state: 'Expected configuration',
  management: 'Management: the Data Plane API and sshd',
  network: 'Network: addresses, routes, rules',
  vips: 'VIPs: AnyIP, return path, binds, exposure',
  system: 'Services, haproxy -c, certificates, hostname, DNS, clock',
} as const;

export type Family = keyof typeof FAMILIES;

/** A check's input: the run's input plus what is derived from it once per host. */
export interface CheckContext extends CheckInput {
  /** The network the agent builds from the expected configuration; undefined without one. */
  model?: NetworkModel;
  /** Why the expected configuration has no network model (it does not validate as one). */
  modelProblem?: string;
  /** The port the verifier logged in on (sshd must listen there). */
  sshPort: number;
  /** The comm (kernel process name) of every PID the collection saw, for tools that print another name. */
  commByPid: ReadonlyMap<number, string>;
}

/** The results of the checks that ran before, by id. */
export type Earlier = ReadonlyMap<string, readonly CheckResult[]>;

export interface Check {
  /** Stable: scripts and JUnit consumers match on it. */
  id: string;
  family: Family;
  /** What a result is about when the check gives one per thing (NIC role, range, `addr:port`…). */
  subject?: string;
  /** What passes, in plain words. */
  doc: string;
  /** When it fails, warns or skips, in plain words (with examples of the message). */
  problems: string;
  /** Checks whose results `run` reads; they come before it in the registry. */
  needs?: readonly string[];
  /** Pure: no I/O, no state kept between calls. Results carry this check's id. */
  run(input: CheckContext, earlier: Earlier): CheckResult[];
}

/** The context of one host's checks. */
export function checkContext(input: CheckInput, sshPort: number): CheckContext {
  const model = input.expected ? expectedModel(input.expected.config) : undefined;
  return {
    ...input,
    ...(typeof model === 'string' ? { modelProblem: model } : model && { model }),
    sshPort,
    commByPid: new Map((input.observed.processes ?? []).map((p) => [p.pid, p.comm])),
  };
}
