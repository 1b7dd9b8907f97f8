/**
 * What the Data Plane API does to haproxy.cfg when the Supervisor asks for load balancers, done by
 * hand (the real API binary is not in Debian or npm, and there is no internet here): append the
 * seed's frontend/backend sections — the Supervisor's kube-apiserver (192.168.0.1:443 and :6443,
 * three control-plane VMs behind it) and one guest cluster's API server (192.168.0.3:6443) — and
 * bump the `# _version=N` line the API keeps at the top for its optimistic locking.
 */

import { fixture } from './ovf.js';

const DOMAIN = 'domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e';
const SUPERVISOR = `${DOMAIN}-kube-system-kube-apiserver-lb-svc`;
const GUEST = `${DOMAIN}-vm-testing-rritesh-guest-cluster-control-plane-service`;

/** The Supervisor's control-plane VMs (the seed's backends) and the guest cluster's. */
export const CPVM_ADDRESSES = ['192.168.128.0', '192.168.128.1', '192.168.128.2'] as const;
export const GUEST_BACKEND = '172.16.10.3';

/** The VIP listeners the sections create (as the seed's `netstat -tnlp` shows them). */
export const VIP_LISTENERS = ['192.168.0.1:443', '192.168.0.1:6443', '192.168.0.3:6443'] as const;

/**
 * The seed's frontends and backends as the Data Plane API wrote them: the sections of
 * test/fixtures/haproxy/api-sections.cfg (the one copy; the planner's tests read the same file),
 * from its first `frontend` on.
 */
export const SEED_SECTIONS: string = (() => {
  const cfg = fixture('haproxy/api-sections.cfg');
  return cfg.slice(cfg.indexOf('\nfrontend ') + 1);
})();

/** The sections of {@link SEED_SECTIONS} whose name starts with `prefix`, as the API writes them. */
function sectionsNamed(prefix: string): string {
  const blocks = SEED_SECTIONS.split(/\n\n(?=frontend |backend )/u).map((b) => b.replace(/\n*$/u, '\n'));
  return blocks.filter((b) => b.split(/\s+/u)[1]!.startsWith(prefix)).join('\n');
}

/** The Supervisor's load balancer (kube-apiserver and nginx on 192.168.0.1). */
export function supervisorSections(): string {
  return sectionsNamed(SUPERVISOR);
}

/** One guest cluster's API server load balancer (192.168.0.3:6443 → 172.16.10.3:6443). */
export function guestSections(): string {
  return sectionsNamed(GUEST);
}

/** Names of the frontends the seed's sections add. */
export const SEED_FRONTENDS = [SUPERVISOR, GUEST] as const;

/** The listeners each part adds. */
export const SUPERVISOR_LISTENERS = ['192.168.0.1:443', '192.168.0.1:6443'] as const;
export const GUEST_LISTENERS = ['192.168.0.3:6443'] as const;

const VERSION_LINE = /^# _version=(\d+)[ \t]*$/mu;

/**
 * haproxy.cfg after the API's change: the version line bumped (or `# _version=1` put on top, as
 * the API does on its first write) and the sections appended after a blank line.
 */
export function addSections(cfg: string, sections: string): { cfg: string; version: number } {
  const m = VERSION_LINE.exec(cfg);
  const version = m ? Number(m[1]) + 1 : 1;
  let out = m ? cfg.replace(VERSION_LINE, `# _version=${version}`) : `# _version=${version}\n${cfg}`;
  if (!out.endsWith('\n')) out += '\n';
  if (!out.endsWith('\n\n')) out += '\n';
  return { cfg: out + sections, version };
}
