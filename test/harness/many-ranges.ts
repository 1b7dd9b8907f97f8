/**
 * 8,000 service ranges (issue #12, section 3), written each way an admin or a script might: the
 * environments the CLI test (test/integration/config/many-ranges-cli.test.ts) and the bench
 * (bench/scale-provision.bench.ts) give to `validate` and to `provision`. Pure.
 *
 * `loadbalance.service_ip_range` takes CIDR networks only, split on commas, semicolons and white
 * space, at most 1,000 (MAX_SERVICE_RANGES), in a value of at most 65,535 characters (MAX_VALUE):
 * src/config/limits.ts. The shortest network is 9 characters (`1.0.0.0/8`), so 8,000 networks
 * with their separators never fit in one value; what fits is shorter items (bare addresses), which
 * the count refuses before any item is read.
 */
import type { ProblemCode } from '../../src/problems.js';
import { SEED_ADAPTERS } from './bad-inputs.js';
import { ovfEnv, SEED_PROPERTIES } from './ovf.js';

export const MANY = 8000;

/** The i-th address of 10.0.0.0/8 after 10.0.0.0 (i < 2^24). */
const addr = (i: number, base = 10) => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export interface RangeCase {
  name: string;
  /** How the ranges are written, for a table. */
  label: string;
  value: () => string;
  /** The problem both commands give. */
  code: ProblemCode;
}

export const RANGE_CASES: readonly RangeCase[] = [
  {
    name: 'cidr-24',
    label: '8,000 disjoint /24 networks, comma-separated',
    value: () => Array.from({ length: MANY }, (_, i) => `${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`).join(','),
    code: 'value-too-long',
  },
  {
    name: 'cidr-32-spaced',
    label: '8,000 /32 networks, ", "-separated',
    value: () => Array.from({ length: MANY }, (_, i) => `${addr(i + 1)}/32`).join(', '),
    code: 'value-too-long',
  },
  {
    name: 'dash-ranges',
    label: '8,000 ranges a.b.c.d-a.b.c.e (not accepted: CIDR only)',
    value: () => Array.from({ length: MANY }, (_, i) => `${addr(4 * i + 1)}-${addr(4 * i + 2)}`).join(','),
    code: 'value-too-long',
  },
  {
    name: 'bare-addresses',
    label: '8,000 bare addresses, one space apart (fits in 65,535 characters)',
    // 7 characters each (one digit an octet: 0.0.0.0 to 7.9.9.9) and a space: 63,999 characters.
    value: () => Array.from({ length: MANY }, (_, i) => String(i).padStart(4, '0').split('').join('.')).join(' '),
    code: 'too-many-items',
  },
  {
    name: 'duplicates',
    label: '8,000 times the same address, one space apart',
    value: () => Array.from({ length: MANY }, () => '1.2.3.4').join(' '),
    code: 'too-many-items',
  },
  {
    name: 'mixed-separators',
    label: '8,000 /24 networks, " ;<tab>" between them',
    value: () => Array.from({ length: MANY }, (_, i) => `${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`).join(' ;\t'),
    code: 'value-too-long',
  },
];

/** The seed's OVF environment with `value` as `loadbalance.service_ip_range`. */
export function rangeEnvironment(value: string): string {
  return ovfEnv({ ...SEED_PROPERTIES, 'loadbalance.service_ip_range': value }, SEED_ADAPTERS);
}
