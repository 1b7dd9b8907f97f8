/**
 * haproxy.cfg planning, pure: the Data Plane API's sections split and join back byte for byte, and
 * a rerun rewrites nothing it does not have to. (haproxy -c, OpenSSL and a running haproxy check
 * the same file in test/integration/haproxy/config.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateProperties } from '../../../src/config/validate.js';
import type { ApplianceConfig } from '../../../src/config/types.js';
import { haproxyModel, type HaproxyFacts } from '../../../src/plan/haproxy.js';
import { mergeConfig, parseSections } from '../../../src/plan/haproxy-sections.js';
import { renderHaproxyCfg } from '../../../src/render/haproxy.js';
import { SEED_PROPERTIES, fixture } from '../../harness/ovf.js';

/** haproxy.cfg as planAppliance makes it: the model, rendered. */
const planHaproxyConfig = (config: ApplianceConfig, facts: HaproxyFacts) => renderHaproxyCfg(haproxyModel(config, facts));

const API_CFG = fixture('haproxy/api-sections.cfg');
const seed = (over: Record<string, string> = {}) => validateProperties({ ...SEED_PROPERTIES, ...over }).config!;

test('sections split and join back to the exact input', () => {
  const p = parseSections(API_CFG);
  assert.equal(p.preamble + p.sections.map((s) => s.text).join(''), API_CFG);
  assert.deepEqual(
    p.sections.map((s) => s.keyword),
    ['global', 'defaults', 'userlist', 'frontend', 'backend', 'backend', 'frontend', 'backend'],
  );
});

test('an unchanged password keeps its hash, so a rerun rewrites nothing', () => {
  const first = planHaproxyConfig(seed(), { existingCfg: API_CFG, salt: 'firstsalt' });
  assert.match(first.content, /password \$6\$oldsaltoldsalt12\$/, 'the hash that verifies is reused');
  assert.equal(planHaproxyConfig(seed(), { existingCfg: first.content, salt: 'x' }).content, first.content);
});

test('managed sections the API re-serialized with other spacing are not rewritten', () => {
  const first = planHaproxyConfig(seed(), { salt: 'abc' }).content;
  const reserialized = first.replace(/^ {2}/gm, '    ').replace(/^(#.*\n)+/m, '# _version=3\n');
  assert.equal(mergeConfig(reserialized, planHaproxyConfig(seed(), { existingCfg: reserialized, salt: 'zzz' }).content), reserialized);
});
