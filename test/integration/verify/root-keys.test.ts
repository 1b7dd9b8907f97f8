/**
 * appliance.ssh_authorized_keys and appliance.permit_root_login prohibit-password against the real
 * sshd in network namespaces (the verifier's bed: test/harness/verify-bed.ts): the appliance's
 * root has only the agent's block of authorized_keys (the key of the property) and the agent's
 * sshd drop-in. The verifier logs in with that key, and every check passes, ssh.root-keys and
 * ssh.root-login among them; a password login as root is refused, the right password too. Needs
 * root; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateProperties } from '../../../src/config/validate.js';
import { canRunNetworkBeds } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_MACS, SEED_PROPERTIES } from '../../harness/ovf.js';
import { World, makePki, SEED_SANS, sha512crypt, sshKeygen, type Appliance, type KeyPair } from '../../harness/verify-bed.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

const ROOT_PASSWORD = 'vmware-root-test';

interface Json {
  hosts: { error?: { kind: string; message: string }; checks: { id: string; status: string; message: string }[] }[];
}

describe('root logs in with the key of appliance.ssh_authorized_keys; prohibit-password refuses passwords', { skip, timeout: 300_000 }, () => {
  let world: World;
  let app: Appliance;
  let client: KeyPair;
  let other: KeyPair;
  let knownHosts: string;
  const bedIds: string[] = [];

  before(async () => {
    world = await World.create();
    bedIds.push(world.bed.id);
    const pki = await makePki(join(world.dir, 'pki'), SEED_SANS);
    const hostKey = await sshKeygen(join(world.dir, 'host_key'));
    client = await sshKeygen(join(world.dir, 'client_key'));
    other = await sshKeygen(join(world.dir, 'other_key'));
    // The key goes through validation, as the property's value, with a comment.
    const config = validateProperties(
      { ...SEED_PROPERTIES, 'appliance.ssh_authorized_keys': `${client.pub} admin@workstation`, 'appliance.permit_root_login': 'prohibit-password' },
      { adapterCount: 3 },
    ).config!;
    assert.equal(config.appliance.permitRootLogin, 'prohibit-password');
    app = await world.addAppliance({
      name: 'app',
      config,
      macs: SEED_MACS,
      network: 'networkd',
      pki,
      hostKey,
      // No key added by hand: the agent's block is the only way in with a key.
      authorizedKeys: [],
      rootPasswordHash: await sha512crypt(ROOT_PASSWORD),
    });
    knownHosts = join(world.dir, 'known_hosts');
    await writeFile(knownHosts, `${app.knownHostsLine()}\n`);
  });

  after(async () => {
    await world?.cleanup();
    await assertNothingLeft({ bedIds });
  });

  test('with the key: logged in, ssh.root-keys and ssh.root-login pass', async () => {
    const r = await world.verify(['10.191.181.52', '--identity', client.path, '--known-hosts', knownHosts, '--timeout', '10', '--json']);
    const json = JSON.parse(r.stdout) as Json;
    const host = json.hosts[0]!;
    assert.equal(host.error, undefined, r.stdout);
    const keys = host.checks.find((c) => c.id === 'ssh.root-keys')!;
    assert.equal(keys.status, 'pass', keys.message);
    assert.match(
      keys.message,
      /holds the 1 key of appliance\.ssh_authorized_keys \(SHA256:[A-Za-z0-9+/]+\); \/root\/\.ssh 700, authorized_keys 600, owned by root/u,
    );
    const login = host.checks.find((c) => c.id === 'ssh.root-login')!;
    assert.equal(login.status, 'pass', login.message);
    assert.match(login.message, /PermitRootLogin is prohibit-password \(sshd -T\): root logs in with a key only; PasswordAuthentication yes/u);
    // Nothing fails (the API is not asked: no credentials given, so those checks skip).
    assert.deepEqual(
      host.checks.filter((c) => c.status === 'fail' || c.status === 'warn').map((c) => `${c.id}: ${c.message}`),
      [],
    );
  });

  test('a key that is not in the property is refused; so is the right root password', async () => {
    const wrongKey = await world.verify(['10.191.181.52', '--identity', other.path, '--known-hosts', knownHosts, '--timeout', '10']);
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.stdout, /authentication failed/u);
    // PasswordAuthentication is yes, yet root may not use it: PermitRootLogin prohibit-password.
    const pw = await world.verify(['root@10.191.181.52', '--password-env', 'HPA_SSH_PW', '--known-hosts', knownHosts, '--timeout', '10'], {
      env: { HPA_SSH_PW: ROOT_PASSWORD },
    });
    assert.equal(pw.code, 2, pw.stdout);
    assert.match(pw.stdout, /AUTHENTICATION FAILED\n {2}root@10\.191\.181\.52:22: authentication failed \(tried password\)/u);
    assert.ok(!`${pw.stdout}${pw.stderr}`.includes(ROOT_PASSWORD));
  });
});
