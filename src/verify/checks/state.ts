/**
 * The expected configuration: where it came from (the appliance's state.json or --expect), and
 * whether the agent's network model can be built from it.
 */
import { parseStateFile, type LastRun } from '../../appliance/state.js';
import { APPLIANCE_PATHS } from '../script.js';
import type { CheckResult } from '../types.js';
import type { Check, CheckContext } from './check.js';
import { r } from './helpers.js';

function checkState(input: CheckContext): CheckResult[] {
  const e = input.expected;
  if (!e) {
    return [
      r(
        'state',
        'fail',
        `no expected configuration: ${input.expectedProblem ?? `${APPLIANCE_PATHS.state} is missing`}`,
        `run haproxy-appliance provision on the appliance (it writes ${APPLIANCE_PATHS.state}), or give --expect OVF_ENV_FILE`,
      ),
    ];
  }
  const src = e.source.kind === 'state' ? `${e.source.path} (agent ${e.source.version}, applied ${e.source.appliedAt})` : `--expect ${e.source.file}`;
  const diffs = input.stateDifferences ?? [];
  if (diffs.length) {
    return [
      r(
        'state',
        'warn',
        `expected configuration from ${src}; the appliance's state.json differs: ${diffs.slice(0, 5).join('; ')}${diffs.length > 5 ? `; and ${diffs.length - 5} more` : ''}`,
        'the appliance was last provisioned with other properties: update the vApp properties and rerun haproxy-appliance provision, or check against the right OVF environment',
      ),
    ];
  }
  return [r('state', 'pass', `expected configuration from ${src} (${e.config.deployment} deployment)`)];
}

const LAST_RUN = 'provision.last-run';
const PROPERTY = /^(appliance|network|loadbalance)\.[a-z0-9_]+$/u;

/** What to do about a failure `at` a property, an option or a part of the document. */
function fixWhat(at: string): string {
  return PROPERTY.test(at) ? `fix the vApp property ${at}` : `fix ${at}`;
}

/** The last provisioning run, as the appliance's state.json records it (`lastRun`). */
export function checkLastRun(input: CheckContext): CheckResult[] {
  const text = input.observed.stateText;
  if (text === undefined) return [r(LAST_RUN, 'skip', `no ${APPLIANCE_PATHS.state} to read the last run from (see the state check)`)];
  const parsed = parseStateFile(text);
  if (typeof parsed === 'string')
    return [
      r(
        LAST_RUN,
        'warn',
        `cannot tell how the last provisioning run ended: ${APPLIANCE_PATHS.state} ${parsed}`,
        'run haproxy-appliance provision on the appliance',
      ),
    ];
  const last: LastRun | undefined = parsed.lastRun;
  if (!last) {
    return [
      r(
        LAST_RUN,
        'warn',
        `cannot tell how the last provisioning run ended: ${APPLIANCE_PATHS.state} (agent ${parsed.applied?.version ?? 'unknown'}) has no record of it (an agent before the record was added wrote it)`,
        'run haproxy-appliance provision on the appliance: this agent records the outcome of every run',
      ),
    ];
  }
  const from = `${last.version ? `, agent ${last.version}` : ''}${last.source ? `, OVF environment from ${last.source}` : ''}`;
  // What it changed and its warnings, when the record has them (agents since issue 13).
  const n = last.changes === undefined ? undefined : last.changes.length + (last.moreChanges ?? 0);
  const changed = n === undefined ? '' : n === 0 ? '; it changed nothing' : `; it changed ${n} item${n === 1 ? '' : 's'} (haproxy-appliance status lists them)`;
  const warned = last.warnings?.length
    ? `; with ${last.warnings.length} warning${last.warnings.length === 1 ? '' : 's'}: ${last.warnings
        .slice(0, 3)
        .map((w) => `${w.at} (${w.code})`)
        .join(', ')}${last.warnings.length > 3 ? ', …' : ''}`
    : '';
  if (last.outcome === 'applied') return [r(LAST_RUN, 'pass', `the last provisioning run (${last.at}${from}) applied the configuration${changed}${warned}`)];
  const problems = last.problems ?? [];
  const listed = problems.slice(0, 5).map((p) => `${p.at}: ${p.message} (${p.code})`);
  const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
  const kept = parsed.applied ? `the appliance keeps the configuration applied at ${parsed.applied.appliedAt}` : 'nothing was ever applied';
  if (last.outcome === 'input-error') {
    const at = [...new Set(problems.map((p) => p.at))];
    const fix = at.length ? at.slice(0, 3).map(fixWhat).join(', ') : 'fix the vApp properties';
    return [
      r(
        LAST_RUN,
        'fail',
        `the last provisioning run (${last.at}${from}) refused the OVF environment: ${listed.join('; ') || 'no problem recorded'}${more}; ${kept}`,
        `${fix} and power-cycle the VM, or run haproxy-appliance provision on the appliance once it is fixed`,
      ),
    ];
  }
  return [
    r(
      LAST_RUN,
      'fail',
      `the last provisioning run (${last.at}${from}) failed to apply: ${listed.join('; ') || 'no problem recorded'}${more}; ${kept}`,
      "read the agent's journal on the appliance (journalctl -u haproxy-appliance), fix the cause and run haproxy-appliance provision",
    ),
  ];
}

export const STATE_CHECKS: readonly Check[] = [
  {
    id: 'state',
    family: 'state',
    doc: "the expected configuration was found (the appliance's state.json, or `--expect`)",
    problems:
      'fail: no state.json and no `--expect`, or a configuration the network model cannot be built from; warn: state.json differs from `--expect` (lists the differences)',
    run: (input) => [
      ...checkState(input),
      ...(input.modelProblem !== undefined
        ? [r('state', 'fail', `the expected configuration has no network model: ${input.modelProblem}`, 'check the properties')]
        : []),
    ],
  },
  {
    id: LAST_RUN,
    family: 'state',
    doc: "the agent's last provisioning run applied its configuration (state.json's `lastRun`: the outcome, when, where the OVF environment came from, and, as recorded since `haproxy-appliance status`, the agent version, how many items it changed and its warnings)",
    problems:
      'fail: the last run refused the OVF environment (names each property and problem code, e.g. `network.nameservers: "1.1.1.x" is not an IP address (not-ip)`; remedy: fix that vApp property and power-cycle, or run `haproxy-appliance provision`) or failed to apply (the message); warn: state.json has no record of the last run (written by an older agent) or cannot be read; skip: no state.json',
    run: checkLastRun,
  },
];
