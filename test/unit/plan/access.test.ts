/**
 * The root password is set at first boot and when the property changes, never again otherwise:
 * the marker (the crypt of the value last applied) decides. A marker that is not such a crypt (a
 * truncated or edited file) proves nothing: the password is set again, and planning does not fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encrypt } from 'unixcrypt';
import { validateProperties } from '../../../src/config/validate.js';
import { accessModel } from '../../../src/plan/access.js';
import { ROOT_PASSWORD_MARKER } from '../../../src/appliance/paths.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';

const config = validateProperties(SEED_PROPERTIES).config!;
const password = config.appliance.rootPassword!;

test('first boot: the password is set, with the marker of its crypt', () => {
  const model = accessModel(config, { salt: 'firstsalt' });
  const hash = encrypt(password, '$6$firstsalt');
  assert.deepEqual(model.rootPassword, { chpasswdLine: `root:${hash}\n`, markerPath: ROOT_PASSWORD_MARKER, marker: `${hash}\n` });
});

test('the property unchanged: the password is left alone; changed: set again', () => {
  assert.equal(accessModel(config, { rootPasswordMarker: `${encrypt(password, '$6$earlier')}\n`, salt: 'new' }).rootPassword, undefined);
  assert.ok(accessModel(config, { rootPasswordMarker: `${encrypt('another password', '$6$earlier')}\n`, salt: 'new' }).rootPassword);
});

test('a marker that is not a SHA-512 crypt sets the password again instead of failing', () => {
  const good = encrypt(password, '$6$earlier');
  for (const marker of ['$6$x$y', good.slice(0, -10), `${good}extra`, '$6$rounds=5000$salt$abc', '$1$md5$abc', '', 'garbage']) {
    const model = accessModel(config, { rootPasswordMarker: `${marker}\n`, salt: 'new' });
    assert.ok(model.rootPassword, JSON.stringify(marker));
  }
});
