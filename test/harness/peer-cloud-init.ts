/**
 * The peer of bench/peer.bench.ts: the same appliance made by Debian's cloud-init (bookworm,
 * 22.4.2) instead of the agent, on the same bed (appliance-image.ts, seed-lan.ts). The image is
 * `scripts/test-image.sh peer-root` (the container's Debian base plus cloud-init, NoCloud only,
 * the networkd renderer; no agent); the instance's data is a NoCloud seed in
 * /var/lib/cloud/seed/nocloud/ (meta-data, user-data, network-config), written into the image
 * root before power-on, as an image builder or a hypervisor's seed drive would provide it.
 *
 * What the seed says, from the seed's properties (examples/ovf-env.xml):
 *   - network-config v2: the three NICs matched by MAC and renamed (`set-name`), their addresses,
 *     the management gateway and DNS servers: all cloud-init's networkd renderer can express;
 *   - bootcmd: what it cannot — the AnyIP local route of loadbalance.service_ip_range and the
 *     policy routing (tables 200/201 and their rules, as the agent's units make them). bootcmd,
 *     not runcmd: it runs at every boot (the kernel forgets routes and rules at power-off; runcmd
 *     runs once per instance) and in cloud-init.service, after systemd-networkd-wait-online and
 *     before network-online.target, so haproxy (After=network-online.target) starts with the
 *     local route in place and binds the VIPs; runcmd runs in cloud-config.service, after
 *     network-online.target, when haproxy has already failed to bind;
 *   - write_files: haproxy.cfg (the same bytes the agent's appliance ends up with), the sshd
 *     drop-in (PermitRootLogin, ListenAddress) and the routing tables' names, all as the agent
 *     renders them for the seed;
 *   - the host name, the root password (chpasswd), password SSH for root.
 * haproxy is Debian's unit, enabled by the package: it starts once network-online.target is
 * reached, which cloud-init.service (bootcmd, write_files) comes before.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { execa } from 'execa';
import { ApplianceBed, seedEnvironment } from './appliance-image.js';
import { cli } from './cli.js';
import { addSections, SEED_SECTIONS } from './dataplane.js';
import { tail } from './image.js';
import { ROOT, SEED_PROPERTIES } from './ovf.js';
import { ROLES, SEED_NICS } from './seed-topology.js';

const TEST_IMAGE = join(ROOT, 'scripts/test-image.sh');

/** The routing tables of the agent's units for the seed (docs/network.md): their numbers. */
const TABLE = { workload: 200, frontend: 201 } as const;

/** A file cloud-init writes (`write_files`), by its path inside the appliance. */
export interface SeedFile {
  path: string;
  content: string;
  permissions: string;
}

/** The network's address (`192.168.0.0/16`) of an interface address (`192.168.1.2/16`), IPv4. */
export function networkOf(cidr: string): string {
  const [addr, len] = cidr.split('/') as [string, string];
  const n = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${bits}`;
}

/**
 * The commands bootcmd runs: what the agent's `.network` units give networkd and cloud-init's
 * network-config v2 (as Debian's networkd renderer renders it) cannot — the AnyIP local route
 * per service range, the workload and frontend tables, and their rules. Idempotent (`replace`,
 * and a rule is deleted before it is added), as bootcmd runs at every boot.
 */
export function bootcmd(props: Record<string, string> = SEED_PROPERTIES): string[] {
  const ranges = (props['loadbalance.service_ip_range'] ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  // shellify (cloud-init) runs the list as one sh script, which goes on after a failed command.
  const cmds: string[] = ['set -e'];
  for (const r of ranges) cmds.push(`ip route replace local ${r} dev lo table local`);
  const rule = (from: string, table: number, pref: number) => [
    `ip rule del from ${from} lookup ${table} pref ${pref} 2>/dev/null || true`,
    `ip rule add from ${from} lookup ${table} pref ${pref}`,
  ];
  for (const role of ['workload', 'frontend'] as const) {
    const nic = SEED_NICS[role];
    const net = networkOf(nic.cidr);
    const t = TABLE[role];
    cmds.push(`ip route replace ${net} dev ${role} scope link src ${nic.address} table ${t}`);
    cmds.push(`ip route replace default via ${nic.gw} dev ${role} table ${t}`);
    // The agent's priorities: the VIP ranges inside the workload network first (1000), then
    // each network (2000 + its index).
    if (role === 'workload') for (const r of ranges) cmds.push(...rule(r, t, 1000));
    cmds.push(...rule(net, t, role === 'workload' ? 2000 : 2001));
  }
  return cmds;
}

/**
 * What both appliances get, rendered by the agent itself for the seed (`provision --root` of the
 * seed's OVF environment in a sandbox under `work`): haproxy.cfg with the seed's frontends and
 * backends appended as the Data Plane API writes them (SEED_SECTIONS), and the files cloud-init
 * writes for the peer (write_files) — that haproxy.cfg, the sshd drop-in and the tables' names.
 */
export async function sharedConfig(work: string): Promise<{ haproxyCfg: string; files: SeedFile[]; resolved: string }> {
  const sb = join(work, 'agent-render');
  await mkdir(sb, { recursive: true, mode: 0o700 });
  await writeFile(join(work, 'ovf-env.xml'), seedEnvironment(), { mode: 0o600 });
  const r = cli(['provision', '--root', sb, '--ovf-env', join(work, 'ovf-env.xml')]);
  if (r.code !== 0) throw new Error(`provision --root (the agent's render of the seed) exited ${r.code}:\n${tail(r.stderr, 20)}`);
  const haproxyCfg = addSections(await readFile(join(sb, 'etc/haproxy/haproxy.cfg'), 'utf8'), SEED_SECTIONS).cfg;
  const copy = async (path: string, permissions: string): Promise<SeedFile> => ({ path, permissions, content: await readFile(join(sb, path), 'utf8') });
  return {
    haproxyCfg,
    resolved: await readFile(join(sb, 'etc/systemd/resolved.conf.d/50-haproxy-appliance.conf'), 'utf8'),
    files: [
      { path: '/etc/haproxy/haproxy.cfg', permissions: '0600', content: haproxyCfg },
      await copy('/etc/ssh/sshd_config.d/50-haproxy-appliance.conf', '0644'),
      await copy('/etc/iproute2/rt_tables.d/haproxy-appliance.conf', '0644'),
    ],
  };
}

/** network-config v2: the nearest to the agent's units that Debian's cloud-init renders. */
export function networkConfig(props: Record<string, string> = SEED_PROPERTIES): string {
  const dns = (props['network.nameservers'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const host = props['network.hostname'] ?? '';
  const domain = host.includes('.') ? host.slice(host.indexOf('.') + 1) : '';
  const ethernets: Record<string, unknown> = {};
  for (const role of ROLES) {
    const nic = SEED_NICS[role];
    ethernets[role] = {
      match: { macaddress: nic.mac },
      'set-name': role,
      addresses: [nic.cidr],
      ...(role === 'management'
        ? { gateway4: nic.gw, nameservers: { addresses: dns, ...(domain ? { search: [domain] } : {}) } }
        : // What the agent's units say too; Debian's networkd renderer drops it (it writes
          // IPv6AcceptRA only with DHCPv6).
          { 'accept-ra': false }),
    };
  }
  return stringify({ version: 2, ethernets });
}

/** user-data (`#cloud-config`): the host name, root's password and SSH, bootcmd, write_files. */
export function userData(files: SeedFile[], props: Record<string, string> = SEED_PROPERTIES): string {
  const host = props['network.hostname'] ?? 'haproxy';
  return `#cloud-config\n${stringify({
    hostname: host.split('.')[0],
    fqdn: host,
    prefer_fqdn_over_hostname: true,
    manage_etc_hosts: true,
    disable_root: false,
    ssh_pwauth: true,
    chpasswd: { expire: false, users: [{ name: 'root', password: props['appliance.root_pwd'] ?? '', type: 'text' }] },
    bootcmd: bootcmd(props),
    write_files: files.map((f) => ({ path: f.path, permissions: f.permissions, owner: 'root:root', content: f.content })),
  })}`;
}

/** The NoCloud seed for one instance. */
export function noCloudSeed(files: SeedFile[], props: Record<string, string> = SEED_PROPERTIES): Record<'meta-data' | 'user-data' | 'network-config', string> {
  const host = props['network.hostname'] ?? 'haproxy';
  return {
    'meta-data': stringify({ 'instance-id': `hpa-peer-${randomBytes(4).toString('hex')}`, 'local-hostname': host.split('.')[0] }),
    'user-data': userData(files, props),
    'network-config': networkConfig(props),
  };
}

/**
 * The bed with the peer's image: ApplianceBed (the same namespaces, NICs, boot and cleanup) whose
 * image is cloud-init's and whose instance data is a NoCloud seed instead of an OVF environment.
 */
export class PeerBed extends ApplianceBed {
  /** The peer's image root: `scripts/test-image.sh peer-root` (the cloudinit base, cached). */
  override async prepareImage(): Promise<{ baseMs: number; built: boolean; copyMs: number; base: string }> {
    await mkdir(this.work, { recursive: true, mode: 0o700 });
    const t0 = performance.now();
    const r = await execa(TEST_IMAGE, ['peer-root', this.root], { reject: false, stdin: 'ignore', timeout: 900_000 });
    if (r.exitCode !== 0) throw new Error(`scripts/test-image.sh peer-root failed (exit ${r.exitCode}):\n${tail(String(r.stderr), 30)}`);
    return { baseMs: 0, built: String(r.stderr).includes('debootstrap'), copyMs: performance.now() - t0, base: String(r.stdout).trim() };
  }

  /** Writes the NoCloud seed into the image (root-only, as cloud-init reads it). */
  async setSeed(seed: Record<string, string>): Promise<void> {
    // The bed binds the OVF environment's folder into every appliance; the peer's stays empty.
    await mkdir(this.envDir, { recursive: true });
    const dir = join(this.root, 'var/lib/cloud/seed/nocloud');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [name, text] of Object.entries(seed)) await writeFile(join(dir, name), text, { mode: 0o600 });
  }

  /**
   * The image builder's fix for what network-config v2 cannot say to networkd (bench row
   * "cloud-init, tuned image"): drop-ins for the units cloud-init renders, baked into the image,
   * with what the agent's units say — no IPv6 router advertisements on workload and frontend (so
   * systemd-networkd-wait-online does not wait for them), no LLMNR or multicast DNS — and the
   * agent's resolved drop-in (`resolved`, its content).
   */
  async tuneImage(resolved: string): Promise<void> {
    for (const role of ROLES) {
      const dir = join(this.root, `etc/systemd/network/10-cloud-init-${role}.network.d`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, '50-appliance.conf'), `[Network]\n${role === 'management' ? '' : 'IPv6AcceptRA=no\n'}LLMNR=no\nMulticastDNS=no\n`, {
        mode: 0o644,
      });
    }
    await mkdir(join(this.root, 'etc/systemd/resolved.conf.d'), { recursive: true });
    await writeFile(join(this.root, 'etc/systemd/resolved.conf.d/50-appliance.conf'), resolved, { mode: 0o644 });
  }

  /** cloud-init's own account of the boot: `cloud-init status --long` and its stage times. */
  async cloudInitReport(): Promise<{ status: string; analyze: string }> {
    const status = await this.inside(['cloud-init', 'status', '--long']);
    const analyze = await this.inside(['cloud-init', 'analyze', 'show']);
    return { status: status.stdout.trim(), analyze: analyze.stdout.trim() };
  }

  /** A file of the booted peer. */
  readRoot(path: string): Promise<string> {
    return readFile(join(this.root, path), 'utf8');
  }
}
