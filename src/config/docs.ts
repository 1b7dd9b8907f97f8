/**
 * The property reference (docs/properties.md), generated from the declarations. A test fails
 * when the committed file is stale; `npm run docs` rewrites it. Pure.
 */
import { PROPERTIES } from './properties.js';

const cell = (s: string) => s.replace(/\|/gu, '\\|').replace(/\n/gu, ' ');

export function renderPropertiesMarkdown(): string {
  const lines = [
    '# OVF properties',
    '',
    '<!-- Generated from src/config/properties.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'The vApp properties the appliance reads from its OVF environment. Values arrive as strings;',
    'blank and the literal `null` mean unset. Booleans take `True`/`true`/`1` and `False`/`false`/`0`;',
    'lists are separated by commas or spaces. `haproxy-appliance ovf-descriptor` prints the same',
    'properties as OVF ProductSections.',
    '',
    '| property | type | default | deployments | secret | description |',
    '|---|---|---|---|---|---|',
  ];
  for (const p of PROPERTIES) {
    const type = p.qualifiers ? `${p.ovfType} (${p.qualifiers})` : p.ovfType;
    lines.push(
      `| \`${p.key}\` | ${cell(type)} | ${p.default ? `\`${cell(p.default)}\`` : ''} | ${p.configurations ? p.configurations.join(', ') : 'all'} | ${p.secret ? 'yes' : ''} | **${cell(p.label)}.** ${cell(p.description)} |`,
    );
  }
  lines.push(
    '',
    '## Deployment configurations',
    '',
    '- `default`: 2 NICs (management, workload); `frontend` properties are ignored with a warning.',
    '- `frontend`: 3 NICs (management, workload, frontend).',
    '',
    'The agent takes the configuration from the number of adapters in the OVF environment; without an',
    'adapter list, from whether any `frontend` property is set (or `--deployment`).',
    '',
  );
  return lines.join('\n');
}
