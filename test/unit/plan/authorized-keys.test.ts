/**
 * Root's authorized_keys: the agent's marked block merged into what is there (src/plan/access.ts
 * mergeAuthorizedKeys), and when the file is the agent's business at all (accessModel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateProperties } from '../../../src/config/validate.js';
import { KEYS_BEGIN as B, KEYS_END as E, accessModel, mergeAuthorizedKeys } from '../../../src/plan/access.js';
import { renderAccessFiles } from '../../../src/render/access.js';
import { SEED_PROPERTIES, fixture } from '../../harness/ovf.js';

const K1 = fixture('ssh/root-key-1.pub').trim();
const K2 = fixture('ssh/root-key-2.pub').trim();
const HAND = fixture('ssh/hand-added.pub').trim();

test('the block: appended to a file without one, replaced where it is, a second one dropped, removed with no keys', () => {
  assert.equal(mergeAuthorizedKeys(undefined, [K1]), `${B}\n${K1}\n${E}\n`);
  assert.equal(mergeAuthorizedKeys('', [K1]), `${B}\n${K1}\n${E}\n`);
  // A file without a final newline: the block starts on a line of its own.
  assert.equal(mergeAuthorizedKeys(HAND, [K1]), `${HAND}\n${B}\n${K1}\n${E}\n`);
  assert.equal(mergeAuthorizedKeys(`a\n${B}\nold\n${E}\nb\n`, [K1, K2]), `a\n${B}\n${K1}\n${K2}\n${E}\nb\n`);
  assert.equal(mergeAuthorizedKeys(`${B}\nold\n${E}\nb\n${B}\nolder\n${E}\n`, [K1]), `${B}\n${K1}\n${E}\nb\n`);
  assert.equal(mergeAuthorizedKeys(`a\n${B}\nold\n${E}\nb\n`, []), 'a\nb\n');
  assert.equal(mergeAuthorizedKeys(`${B}\nold\n${E}\n`, []), '');
  // A BEGIN without its END (edited by hand): only that line goes, no key after it is lost.
  assert.equal(mergeAuthorizedKeys(`${B}\n${HAND}\n`, [K1]), `${HAND}\n${B}\n${K1}\n${E}\n`);
  // Merging what it made changes nothing.
  const once = mergeAuthorizedKeys(`${HAND}\n# note\n`, [K1, K2]);
  assert.equal(mergeAuthorizedKeys(once, [K1, K2]), once);
});

test('the file is planned only with keys or with a block to remove; 0600, its folder 0700, merged again when edited meanwhile', () => {
  const withKeys = validateProperties({ ...SEED_PROPERTIES, 'appliance.ssh_authorized_keys': `${K1}, ${K2}` }).config!;
  const without = validateProperties(SEED_PROPERTIES).config!;
  const { rootPassword: _a, ...a1 } = withKeys.appliance;
  const { rootPassword: _b, ...a2 } = without.appliance;
  const plan = (cfg: typeof withKeys, authorizedKeys?: string) =>
    renderAccessFiles(accessModel(cfg, { salt: 's', ...(authorizedKeys !== undefined && { authorizedKeys }) })).find(
      (f) => f.path === '/root/.ssh/authorized_keys',
    );
  const f = plan({ ...withKeys, appliance: a1 }, `${HAND}\n`)!;
  assert.equal(f.content, `${HAND}\n${B}\n${K1}\n${K2}\n${E}\n`);
  assert.equal(f.mode, 0o600);
  assert.equal(f.dirMode, 0o700);
  assert.deepEqual(f.affects, []);
  assert.equal(f.merge!.base, `${HAND}\n`);
  // Someone added a line while the run worked: the merge keeps it.
  assert.equal(f.merge!.remerge(`${HAND}\nssh-ed25519 AAAAnew x\n`), `${HAND}\nssh-ed25519 AAAAnew x\n${B}\n${K1}\n${K2}\n${E}\n`);
  // No keys: a file without a block is not touched, nor planned; one with a block loses it.
  assert.equal(plan({ ...without, appliance: a2 }, `${HAND}\n`), undefined);
  assert.equal(plan({ ...without, appliance: a2 }), undefined);
  assert.equal(plan({ ...without, appliance: a2 }, `${B}\n${K1}\n${E}\n${HAND}\n`)!.content, `${HAND}\n`);
});
