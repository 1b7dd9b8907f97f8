/**
 * Appliances in network namespaces, for the verifier's integration tests and benches, built on
 * the network test bed (test/harness/netns.ts).
 *
 * One appliance = a network namespace whose NICs (management, workload[, frontend], with the
 * seed's MACs) are veth ends whose peers sit on bridges in a shared `gw` namespace holding the
 * gateway addresses (the verifier runs there, as the admin's workstation on the management
 * network). The network comes from the project's own plan: the real systemd-networkd on the
 * planned units (`network: 'networkd'`), or the same model applied with `ip` (`'ip'`, quicker,
 * for fleets). A "holder" process keeps a private mount and UTS namespace for the appliance, in
 * which /etc/haproxy, /var/lib, /etc/shadow, /etc/resolv.conf, /etc/hostname and /run are the
 * appliance's own (test files or tmpfs); the real sshd, the real haproxy and the Data Plane API
 * stand-in (dataplaneapi-standin.cjs) run inside it via nsenter.
 *
 * Safety: only namespaces of the bed (`hpa-<random>-*`), deleted in cleanup; every process is
 * started here and ended by PID (and, last, any process left in the appliance's network
 * namespace — which only this bed created — is killed by PID). Nothing touches the host's
 * interfaces, routes, services or /etc: every mount happens in a private mount namespace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ApplianceConfig, NicRole } from '../../src/config/types.js';
import { networkModel } from '../../src/plan/network.js';
import { renderNetworkFiles } from '../../src/render/network.js';
import { accessModel, mergeAuthorizedKeys } from '../../src/plan/access.js';
import { renderAccessFiles } from '../../src/render/access.js';
import { SSHD_DROPIN } from '../../src/appliance/paths.js';
import { publicConfig, STATE_FORMAT, type AppliedState } from '../../src/appliance/state.js';
import { createTestBed, type TestBed } from './netns.js';
import { sleep, terminate } from './process.js';
import { addApplianceNics, addBridges, ROLES, type Role } from './seed-topology.js';
import { SEED_SECTIONS } from './dataplane.js';
import { ROOT } from './ovf.js';
import { cleanupOnExit } from './exit-hook.js';

const HERE = dirname(fileURLToPath(import.meta.url));

export { ROOT };

async function sh(file: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<string> {
  const r = await execa(file, args, {
    reject: false,
    timeout: 30_000,
    ...(opts.cwd && { cwd: opts.cwd }),
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
  });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr)}`);
  return String(r.stdout);
}

// ---------------------------------------------------------------------------------------------
// Keys and certificates, made by the real ssh-keygen and openssl
// ---------------------------------------------------------------------------------------------

export interface Pki {
  dir: string;
  caCrt: string;
  caKey: string;
  serverCrt: string;
  serverKey: string;
}

/** The seed appliance's certificate names: its three addresses, loopback, and its host names. */
export const SEED_SANS: readonly string[] = [
  'IP:10.191.181.52',
  'IP:192.168.1.2',
  'IP:172.16.10.2',
  'IP:127.0.0.1',
  'DNS:localhost',
  'DNS:haproxy.local',
  'DNS:haproxy',
];

/** A CA and a server certificate signed by it (EC P-256), with the given SANs. */
export async function makePki(dir: string, sans: readonly string[], opts: { days?: number; caName?: string } = {}): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  await sh('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '3650',
    '-subj',
    `/CN=${opts.caName ?? 'haproxy-appliance test CA'}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await sh('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
    '-subj',
    '/CN=haproxy.local',
  ]);
  await writeFile(p('ext.cnf'), `subjectAltName=${sans.join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  await sh('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.crt'),
    '-days',
    String(opts.days ?? 365),
    '-extfile',
    p('ext.cnf'),
  ]);
  return { dir, caCrt: p('ca.crt'), caKey: p('ca.key'), serverCrt: p('server.crt'), serverKey: p('server.key') };
}

export interface KeyPair {
  path: string;
  pub: string;
}

export async function sshKeygen(path: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): Promise<KeyPair> {
  await sh('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'hpa-verify-test', '-f', path]);
  return { path, pub: (await readFile(`${path}.pub`, 'utf8')).trim() };
}

/** `openssl passwd -6` of a password (for the appliance's private /etc/shadow). */
export async function sha512crypt(password: string): Promise<string> {
  return (await sh('openssl', ['passwd', '-6', '-stdin'], { input: password })).trim();
}

// ---------------------------------------------------------------------------------------------
// haproxy.cfg
// ---------------------------------------------------------------------------------------------

const SEED_DOMAIN = 'domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e';

/**
 * The seed's frontends and backends (SEED_SECTIONS, from test/fixtures/haproxy/api-sections.cfg)
 * with the servers' health checks taken out (nothing listens behind them here, and no traffic
 * leaves the bed), plus an HTTP ingress VIP (192.168.0.2:80).
 */
export function seedHaproxySections(): string {
  return `${SEED_SECTIONS.replace(/ check (weight \d+) verify none$/gmu, ' $1')}
frontend ${SEED_DOMAIN}-http-ingress
  mode tcp
  bind 192.168.0.2:80 name ${SEED_DOMAIN}-http-ingress-192.168.0.2:http
  default_backend ${SEED_DOMAIN}-http-ingress

backend ${SEED_DOMAIN}-http-ingress
  mode tcp
  server ingress-192.168.128.0:80 192.168.128.0:80 weight 100
`;
}

export function haproxyCfg(apiUser: string, apiPassword: string, sections = seedHaproxySections()): string {
  return `# _version=1
global
  master-worker
  stats socket /run/haproxy/api.sock mode 600 level admin
  maxconn 2000

defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s

userlist controller
  user ${apiUser} insecure-password ${apiPassword}

${sections}`;
}

// ---------------------------------------------------------------------------------------------
// The world: one bed, one gw namespace with a bridge per network
// ---------------------------------------------------------------------------------------------

export interface ApplianceSpec {
  /** Short namespace name, e.g. `app` or `app07`. */
  name: string;
  config: ApplianceConfig;
  macs: Partial<Record<NicRole, string>>;
  network: 'networkd' | 'ip';
  /** haproxy.cfg text (default: the seed's sections with the config's API user). */
  haproxyCfg?: string;
  pki: Pki;
  hostKey: KeyPair;
  authorizedKeys: string[];
  /** SHA-512 crypt of root's password in the appliance's private /etc/shadow. */
  rootPasswordHash?: string;
  /** The port the Data Plane API stand-in listens on (default: the configured one). */
  dataplanePort?: number;
}

interface Tracked {
  child: ChildProcess;
  what: string;
  log: string;
}

/** PIDs of every process whose network namespace is `nsInode` (processes of our namespaces only). */
async function pidsInNetns(nsInode: string): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/u.test(d)) continue;
    try {
      if ((await readlink(`/proc/${d}/ns/net`)) === nsInode) out.push(Number(d));
    } catch {
      /* gone or not ours to read */
    }
  }
  return out;
}

/** The gw namespace's bridge for a network: br-m, br-w, br-f. */
const bridgeOf = (role: Role) => `br-${role[0]}`;

export class World {
  /** Unregisters the last-resort cleanup (see test/harness/exit-hook.ts). */
  forgetExitHook: () => void = () => undefined;
  readonly bed: TestBed;
  readonly dir: string;
  private readonly appliances: Appliance[] = [];
  private gwReady: Promise<void> | undefined;
  private peerCount = 0;

  private constructor(bed: TestBed, dir: string) {
    this.bed = bed;
    this.dir = dir;
  }

  static async create(): Promise<World> {
    const dir = await mkdtemp(join(tmpdir(), 'hpa-verify-'));
    await chmod(dir, 0o755);
    const w = new World(createTestBed(), dir);
    // Last resort: kill what we started (by PID) and delete the namespaces, on exit and signals.
    w.forgetExitHook = cleanupOnExit(() => w.killAllSync());
    return w;
  }

  /** The gw namespace: bridges br-m (management), br-w (workload), br-f (frontend) with the gateway addresses. */
  async gateway(gws: Partial<Record<NicRole, string>>): Promise<void> {
    this.gwReady ??= (async () => {
      await this.bed.addNamespace('gw');
      await addBridges(
        this.bed,
        'gw',
        ROLES.filter((role) => role in gws).map((role) => ({ name: bridgeOf(role), ...(gws[role] && { cidr: gws[role] }) })),
      );
    })();
    return this.gwReady;
  }

  nextPeer(): number {
    return this.peerCount++;
  }

  async addAppliance(spec: ApplianceSpec): Promise<Appliance> {
    const a = new Appliance(this, spec);
    this.appliances.push(a);
    await a.start();
    return a;
  }

  /** Runs the CLI (`node --import tsx src/bin.ts verify …` or dist/bin.js) in the gw namespace. */
  async verify(
    args: string[],
    opts: { env?: Record<string, string>; dist?: boolean; timeoutMs?: number; wrap?: string[] } = {},
  ): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    const home = join(this.dir, 'home');
    await mkdir(home, { recursive: true });
    const entry = opts.dist ? [join(ROOT, 'dist/bin.js')] : ['--import', 'tsx', join(ROOT, 'src/bin.ts')];
    const t0 = performance.now();
    // `wrap`: a command the CLI runs under (e.g. /usr/bin/time to measure its peak RSS).
    const r = await execa('ip', ['netns', 'exec', this.bed.nsName('gw'), ...(opts.wrap ?? []), process.execPath, ...entry, 'verify', ...args], {
      reject: false,
      timeout: opts.timeoutMs ?? 120_000,
      cwd: ROOT,
      stdin: 'ignore',
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, NO_COLOR: '1', ...opts.env },
      extendEnv: false,
    });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), ms: performance.now() - t0 };
  }

  /** Ends every process, deletes the namespaces and the temp dir. Idempotent; never throws. */
  async cleanup(): Promise<void> {
    for (const a of this.appliances) await a.stopAll().catch(() => undefined);
    await this.bed.cleanup();
    await rm(this.dir, { recursive: true, force: true });
    this.forgetExitHook();
  }

  killAllSync(): void {
    for (const a of this.appliances) a.killSync();
    this.bed.cleanupSync();
    // A namespace whose `ip netns add` was still running when a signal came is created after
    // the bed's cleanup: wait a moment and delete whatever carries this bed's random id.
    spawnSync('sh', ['-c', `sleep 0.3; for n in $(ip netns list | awk '{print $1}' | grep '^hpa-${this.bed.id}-'); do ip netns del "$n"; done; true`], {
      stdio: 'ignore',
      timeout: 5_000,
    });
    rmSync(this.dir, { recursive: true, force: true });
    this.forgetExitHook();
  }
}

// ---------------------------------------------------------------------------------------------
// One appliance
// ---------------------------------------------------------------------------------------------

/** No process of a bed outlives this, even if the test process is killed without cleaning up. */
const MAX_LIFE_S = 3600;

const HOLDER_SCRIPT = `
set -e
D="$1"; HOST="$2"
mount --make-rprivate /
mount --bind "$D/etc-haproxy" /etc/haproxy
mount -t tmpfs -o mode=0755 tmpfs /var/lib
mkdir -p /var/lib/haproxy-appliance
cp "$D/state.json" /var/lib/haproxy-appliance/state.json
mount --bind "$D/shadow" /etc/shadow
mount --bind "$D/resolv.conf" /etc/resolv.conf
mount --bind "$D/hostname" /etc/hostname
mount -t tmpfs -o mode=0755 tmpfs /run
# Root's home of the appliance: its own .ssh (the agent's block and the bed's keys), never the host's.
mount -t tmpfs -o mode=0700 tmpfs /root
mkdir -m 0700 /root/.ssh
cp "$D/authorized_keys" /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
# sshd -T (the verifier's ssh-access section) reads the appliance's sshd_config, not the host's.
if [ -e /etc/ssh/sshd_config ]; then mount --bind "$D/sshd_config" /etc/ssh/sshd_config; fi
mkdir -p /run/sshd /run/haproxy
chmod 0755 /run/sshd
hostname "$HOST"
echo READY
exec sleep ${MAX_LIFE_S}
`;

export class Appliance {
  readonly world: World;
  readonly spec: ApplianceSpec;
  readonly dir: string;
  private holder?: Tracked;
  private sshd?: Tracked;
  private haproxy?: Tracked;
  private dataplane?: Tracked;
  private netnsInode?: string;
  private networkdStop?: () => Promise<void>;

  constructor(world: World, spec: ApplianceSpec) {
    this.world = world;
    // NICs without a given MAC get a random locally administered one (networkd matches by MAC).
    const macs = { ...spec.macs };
    for (const role of ['management', 'workload', 'frontend'] as const) {
      macs[role] ??= `02:${randomBytes(5).toString('hex').match(/../gu)!.join(':')}`;
    }
    this.spec = { ...spec, macs };
    this.dir = join(world.dir, spec.name);
  }

  get ns(): string {
    return this.spec.name;
  }

  get mgmtIp(): string {
    return this.spec.config.network.management.address!.address;
  }

  get dataplanePort(): number {
    return this.spec.dataplanePort ?? this.spec.config.loadbalance.dataplanePort;
  }

  private roles(): NicRole[] {
    return this.spec.config.network.frontend ? ['management', 'workload', 'frontend'] : ['management', 'workload'];
  }

  async start(): Promise<void> {
    const { world, spec } = this;
    const bed = world.bed;
    const cfg = spec.config;
    await world.gateway({
      management: `${cfg.network.management.gateway}/${cfg.network.management.address!.prefix}`,
      workload: `${cfg.network.workload.gateway}/${cfg.network.workload.address!.prefix}`,
      ...(cfg.network.frontend && { frontend: `${cfg.network.frontend.gateway}/${cfg.network.frontend.address!.prefix}` }),
    });
    await bed.addNamespace(this.ns);
    this.netnsInode = (await bed.exec(this.ns, ['readlink', '/proc/self/ns/net'])).stdout.trim();
    await addApplianceNics(bed, {
      ns: this.ns,
      order: this.roles(),
      macs: spec.macs,
      name: (role) => role,
      peer: (role) => ({ ns: 'gw', dev: `v${world.nextPeer()}${role[0]}`, bridge: bridgeOf(role) }),
    });
    await this.configureNetwork();
    await this.writeFiles();
    await this.startHolder();
    await this.startSshd();
    await this.startHaproxy();
    await this.startDataplane();
  }

  private async configureNetwork(): Promise<void> {
    const { spec } = this;
    const bed = this.world.bed;
    const nics = this.roles().map((role) => ({ role, mac: spec.macs[role]! }));
    if (spec.network === 'networkd') {
      const unitDir = join(this.dir, 'units');
      await mkdir(unitDir, { recursive: true });
      for (const f of renderNetworkFiles(networkModel(spec.config, nics))) {
        if (!f.path.startsWith('/etc/systemd/network/')) continue;
        await writeFile(join(unitDir, f.path.slice('/etc/systemd/network/'.length)), f.content);
      }
      const nd = await bed.runNetworkd(this.ns, unitDir, { until: 'static', logLevel: 'debug', timeoutMs: 30_000 });
      this.networkdStop = () => nd.stop();
      return;
    }
    const model = networkModel(spec.config, nics);
    for (const nic of model.nics) {
      await bed.ip(this.ns, ['link', 'set', 'dev', nic.role, 'up']);
      if (nic.address) await bed.ip(this.ns, ['addr', 'add', nic.address, 'dev', nic.role]);
      if (nic.gateway) await bed.ip(this.ns, ['route', 'add', 'default', 'via', nic.gateway, 'dev', nic.role]);
      for (const r of nic.routes) {
        const args = ['route', 'add', r.destination ?? 'default'];
        if (r.gateway) args.push('via', r.gateway);
        args.push('dev', nic.role);
        if (r.gatewayOnLink) args.push('onlink');
        if (r.scope) args.push('scope', r.scope);
        if (r.preferredSource) args.push('src', r.preferredSource);
        if (r.table !== undefined) args.push('table', String(r.table));
        await bed.ip(this.ns, args);
      }
      for (const rule of nic.rules) {
        const args = ['rule', 'add', 'priority', String(rule.priority)];
        if (rule.from) args.push('from', rule.from);
        if (rule.to) args.push('to', rule.to);
        args.push('lookup', String(rule.table));
        if (rule.suppressPrefixLength !== undefined) args.push('suppress_prefixlength', String(rule.suppressPrefixLength));
        await bed.ip(this.ns, args);
      }
    }
    for (const r of model.anyip) await bed.ip(this.ns, ['route', 'add', 'local', r.destination!, 'dev', 'lo', 'table', 'local']);
  }

  private async writeFiles(): Promise<void> {
    const { spec, dir } = this;
    const cfg = spec.config;
    await mkdir(join(dir, 'etc-haproxy'), { recursive: true });
    await mkdir(join(dir, 'bin'), { recursive: true });
    await copyFile(spec.pki.caCrt, join(dir, 'etc-haproxy/ca.crt'));
    await copyFile(spec.pki.serverCrt, join(dir, 'etc-haproxy/server.crt'));
    await copyFile(spec.pki.serverKey, join(dir, 'etc-haproxy/server.key'));
    await writeFile(join(dir, 'etc-haproxy/haproxy.cfg'), spec.haproxyCfg ?? haproxyCfg(cfg.loadbalance.haproxyUser, cfg.loadbalance.haproxyPassword));
    const appliedAt = new Date().toISOString();
    const state: AppliedState = {
      format: STATE_FORMAT,
      version: '0.1.0',
      appliedAt,
      config: publicConfig(cfg),
      files: {},
      lastRun: { at: appliedAt, outcome: 'applied', source: 'file /etc/haproxy-appliance/ovf-env.xml' },
    };
    await writeFile(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
    await writeFile(join(dir, 'shadow'), `root:${spec.rootPasswordHash ?? '*'}:19000:0:99999:7:::\n`, { mode: 0o600 });
    await writeFile(join(dir, 'resolv.conf'), `${cfg.network.nameservers.map((n) => `nameserver ${n}`).join('\n')}\n`);
    const host = cfg.network.hostname;
    await writeFile(join(dir, 'hostname'), `${host}\n`);
    // Root's authorized_keys as the agent makes it: the bed's keys (the verifier's) as keys added
    // by hand, and the block of appliance.ssh_authorized_keys.
    await writeFile(join(dir, 'authorized_keys'), mergeAuthorizedKeys(`${spec.authorizedKeys.join('\n')}\n`, cfg.appliance.sshAuthorizedKeys), { mode: 0o600 });
    // The agent's sshd drop-in (PermitRootLogin, ListenAddress), included first as sshd_config does.
    const { rootPassword: _pwd, ...appliance } = cfg.appliance;
    const dropin = renderAccessFiles(accessModel({ ...cfg, appliance }, { salt: 'unused' })).find((f) => f.path === SSHD_DROPIN)!;
    await writeFile(join(dir, 'sshd-dropin.conf'), dropin.content);
    await writeFile(
      join(dir, 'sshd_config'),
      [
        `Include ${join(dir, 'sshd-dropin.conf')}`,
        'Port 22',
        ...(/^ListenAddress /mu.test(dropin.content) ? [] : [`ListenAddress ${this.mgmtIp}`]),
        `HostKey ${spec.hostKey.path}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'PidFile none',
        'MaxStartups 100:30:200',
        'LogLevel ERROR',
        'PrintMotd no',
        'UseDNS no',
        '',
      ].join('\n'),
    );
    const standin = await readFile(join(HERE, 'dataplaneapi-standin.cjs'), 'utf8');
    await writeFile(join(dir, 'bin/dataplaneapi'), `#!${process.execPath}\n${standin}`, { mode: 0o755 });
  }

  private spawnTracked(what: string, argv: string[]): Tracked {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    });
    const t: Tracked = { child, what, log: '' };
    child.stdout?.on('data', (d: Buffer) => (t.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (t.log += d.toString()));
    child.on('error', (e) => (t.log += `spawn error: ${e.message}\n`));
    return t;
  }

  /** argv run inside the appliance's namespaces; daemons get a bounded life (`timeout`), as the holder has. */
  private inside(argv: string[], opts: { daemon?: boolean } = {}): string[] {
    return ['nsenter', '-t', String(this.holder!.child.pid), '-n', '-m', '-u', '--', ...(opts.daemon ? ['timeout', String(MAX_LIFE_S)] : []), ...argv];
  }

  private async waitFor(what: string, t: Tracked, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      if (t.child.exitCode !== null || t.child.signalCode !== null)
        throw new Error(`${what} exited early (${t.child.exitCode ?? t.child.signalCode}): ${t.log.trim()}`);
      if (await cond()) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not ready after ${timeoutMs} ms: ${t.log.trim()}`);
      await sleep(50);
    }
  }

  private async listening(address: string, port: number): Promise<boolean> {
    const r = await this.world.bed.exec(this.ns, ['ss', '-Htln', `sport = :${port}`], { reject: false });
    return r.stdout.split('\n').some((l) => l.includes(`${address}:${port}`));
  }

  private async startHolder(): Promise<void> {
    const t = this.spawnTracked('holder', [
      'ip',
      'netns',
      'exec',
      this.world.bed.nsName(this.ns),
      'unshare',
      '--mount',
      '--uts',
      '--propagation',
      'private',
      'sh',
      '-c',
      HOLDER_SCRIPT,
      'sh',
      this.dir,
      this.spec.config.network.hostname,
    ]);
    this.holder = t;
    await this.waitFor('holder', t, async () => t.log.includes('READY'));
  }

  async startSshd(): Promise<void> {
    const t = this.spawnTracked('sshd', this.inside(['/usr/sbin/sshd', '-D', '-e', '-f', join(this.dir, 'sshd_config')], { daemon: true }));
    this.sshd = t;
    await this.waitFor('sshd', t, () => this.listening(this.mgmtIp, 22));
  }

  /** Ends sshd (nothing listens on port 22 until startSshd). */
  async stopSshd(): Promise<void> {
    if (this.sshd) await terminate(this.sshd.child);
    this.sshd = undefined;
  }

  async startHaproxy(): Promise<void> {
    const t = this.spawnTracked('haproxy', this.inside(['/usr/sbin/haproxy', '-W', '-db', '-f', '/etc/haproxy/haproxy.cfg'], { daemon: true }));
    this.haproxy = t;
    const first = /bind (\d+\.\d+\.\d+\.\d+):(\d+)/u.exec(await this.readHaproxyCfg());
    await this.waitFor('haproxy', t, async () => (first ? this.listening(first[1]!, Number(first[2])) : true));
  }

  async stopHaproxy(): Promise<void> {
    if (this.haproxy) await terminate(this.haproxy.child);
    this.haproxy = undefined;
    // Workers end with their master; wait until nothing listens any more.
    const t0 = Date.now();
    while (Date.now() - t0 < 5_000) {
      const r = await this.world.bed.exec(this.ns, ['ss', '-Htlnp'], { reject: false });
      if (!r.stdout.includes('"haproxy"')) return;
      await sleep(50);
    }
  }

  async startDataplane(port = this.dataplanePort): Promise<void> {
    const t = this.spawnTracked(
      'dataplaneapi',
      this.inside(
        [
          join(this.dir, 'bin/dataplaneapi'),
          '--log-level=warning',
          '--log-to=stdout',
          '--scheme=https',
          '--haproxy-bin=/usr/sbin/haproxy',
          '--config-file=/etc/haproxy/haproxy.cfg',
          '--reload-cmd=/usr/bin/systemctl reload haproxy',
          '--reload-delay=30',
          `--tls-host=${this.mgmtIp}`,
          `--tls-port=${port}`,
          '--tls-certificate=/etc/haproxy/server.crt',
          '--tls-key=/etc/haproxy/server.key',
          '--userlist=controller',
        ],
        { daemon: true },
      ),
    );
    this.dataplane = t;
    await this.waitFor('dataplaneapi', t, async () => t.log.includes('READY'));
  }

  async stopDataplane(): Promise<void> {
    if (this.dataplane) await terminate(this.dataplane.child);
    this.dataplane = undefined;
  }

  async readHaproxyCfg(): Promise<string> {
    return readFile(join(this.dir, 'etc-haproxy/haproxy.cfg'), 'utf8');
  }

  /** Rewrites haproxy.cfg in place (the bind mount sees it at once); haproxy is not reloaded. */
  async writeHaproxyCfg(text: string): Promise<void> {
    await writeFile(join(this.dir, 'etc-haproxy/haproxy.cfg'), text);
  }

  /** `ip …` inside the appliance. */
  async ip(args: string[]): Promise<string> {
    return this.world.bed.ip(this.ns, args);
  }

  /** Runs a command inside the appliance's namespaces (network, mount, UTS). */
  async exec(argv: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
    const r = await execa(this.inside(argv)[0]!, this.inside(argv).slice(1), {
      reject: false,
      timeout: 30_000,
      ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
      env: { LC_ALL: 'C', PATH: process.env.PATH ?? '' },
    });
    return { stdout: String(r.stdout), stderr: String(r.stderr), code: r.exitCode ?? -1 };
  }

  /** The known_hosts line for this appliance's host key (plain). */
  knownHostsLine(): string {
    const [type, key] = this.spec.hostKey.pub.split(/\s+/u);
    return `${this.mgmtIp} ${type} ${key}`;
  }

  async stopAll(): Promise<void> {
    for (const t of [this.dataplane, this.haproxy, this.sshd, this.holder]) if (t) await terminate(t.child);
    await this.networkdStop?.();
    if (this.netnsInode) {
      for (const pid of await pidsInNetns(this.netnsInode)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }

  killSync(): void {
    for (const t of [this.dataplane, this.haproxy, this.sshd, this.holder]) {
      if (t?.child.pid !== undefined && t.child.exitCode === null && t.child.signalCode === null) {
        try {
          process.kill(t.child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    if (this.netnsInode)
      spawnSync(
        'sh',
        ['-c', `for p in /proc/[0-9]*; do [ "$(readlink $p/ns/net 2>/dev/null)" = '${this.netnsInode}' ] && kill -9 \${p#/proc/} 2>/dev/null; done; true`],
        { stdio: 'ignore' },
      );
  }
}
