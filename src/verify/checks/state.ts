/**
 * The expected configuration: where it came from (the appliance's state.json or --expect), and
 * whether the agent's network model can be built from it.
 */
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
];
