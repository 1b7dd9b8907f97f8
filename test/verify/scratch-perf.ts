import { World, makePki, sshKeygen } from './appliance-bed.js';
import { validateProperties } from '../../src/config/validate.js';
import { SEED_PROPERTIES, SEED_MACS } from '../support/ovf.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;
const w = await World.create();
try {
  const pki = await makePki(join(w.dir, 'pki'), ['IP:10.191.181.52']);
  const hostKey = await sshKeygen(join(w.dir, 'host_key'));
  const client = await sshKeygen(join(w.dir, 'client_key'));
  const a = await w.addAppliance({ name: 'app', config, macs: SEED_MACS, network: 'ip', pki, hostKey, authorizedKeys: [client.pub] });
  await writeFile(join(w.dir, 'kh'), a.knownHostsLine() + '\n');
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const c = spawn('ip', ['netns', 'exec', w.bed.nsName('gw'), process.execPath, 'dist/bin.js', 'verify', '10.191.181.52', '--identity', client.path, '--known-hosts', join(w.dir, 'kh'), '--json'], { env: { PATH: process.env.PATH, HOME: w.dir } });
    let out = ''; let tOut = 0;
    c.stdout.on('data', (d) => { out += d; tOut = performance.now() - t0; });
    await new Promise((r) => c.on('exit', r));
    const tExit = performance.now() - t0;
    const j = JSON.parse(out).hosts[0].timings;
    console.log(`last stdout ${tOut.toFixed(0)} exit ${tExit.toFixed(0)} inproc ${j.totalMs.toFixed(0)} connect ${j.connectMs.toFixed(0)} collect ${j.collectMs.toFixed(0)}`);
  }
} finally { await w.cleanup(); }
