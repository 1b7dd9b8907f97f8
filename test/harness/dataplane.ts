/**
 * What the Data Plane API does to haproxy.cfg when the Supervisor asks for load balancers, done by
 * hand (the real API binary is not in Debian or npm, and there is no internet here): append the
 * seed's frontend/backend sections — the Supervisor's kube-apiserver (192.168.0.1:443 and :6443,
 * three control-plane VMs behind it) and one guest cluster's API server (192.168.0.3:6443) — and
 * bump the `# _version=N` line the API keeps at the top for its optimistic locking. Pure.
 */

const DOMAIN = 'domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e';
const SUPERVISOR = `${DOMAIN}-kube-system-kube-apiserver-lb-svc`;
const GUEST = `${DOMAIN}-vm-testing-rritesh-guest-cluster-control-plane-service`;

/** The Supervisor's control-plane VMs (the seed's backends) and the guest cluster's. */
export const CPVM_ADDRESSES = ['192.168.128.0', '192.168.128.1', '192.168.128.2'] as const;
export const GUEST_BACKEND = '172.16.10.3';

/** The VIP listeners the sections create (as the seed's `netstat -tnlp` shows them). */
export const VIP_LISTENERS = ['192.168.0.1:443', '192.168.0.1:6443', '192.168.0.3:6443'] as const;

/**
 * The Supervisor's load balancer (kube-apiserver and nginx on 192.168.0.1), as the Data Plane API
 * writes it (two-space indentation).
 */
export function supervisorSections(): string {
  const servers = (port: number) =>
    CPVM_ADDRESSES.map((a) => `  server ${SUPERVISOR}-${a}:${port} ${a}:${port} check weight 100 verify none`).join('\n');
  return `frontend ${SUPERVISOR}
  mode tcp
  bind 192.168.0.1:443 name ${SUPERVISOR}-192.168.0.1:nginx
  bind 192.168.0.1:6443 name ${SUPERVISOR}-192.168.0.1:kube-apiserver
  log-tag ${SUPERVISOR}
  option tcplog
  use_backend ${SUPERVISOR}-kube-apiserver if { dst_port 6443 }
  use_backend ${SUPERVISOR}-nginx if { dst_port 443 }

backend ${SUPERVISOR}-kube-apiserver
  mode tcp
  balance roundrobin
  option tcp-check
  log-tag ${SUPERVISOR}-kube-apiserver
${servers(6443)}

backend ${SUPERVISOR}-nginx
  mode tcp
  balance roundrobin
  option tcp-check
  log-tag ${SUPERVISOR}-nginx
${servers(443)}
`;
}

/** One guest cluster's API server load balancer (192.168.0.3:6443 → 172.16.10.3:6443). */
export function guestSections(): string {
  return `frontend ${GUEST}
  mode tcp
  bind 192.168.0.3:6443 name ${GUEST}-192.168.0.3:apiserver
  log-tag ${GUEST}
  option tcplog
  use_backend ${GUEST}-apiserver if { dst_port 6443 }

backend ${GUEST}-apiserver
  mode tcp
  balance roundrobin
  option tcp-check
  log-tag ${GUEST}-apiserver
  server ${GUEST}-${GUEST_BACKEND}:6443 ${GUEST_BACKEND}:6443 check weight 100 verify none
`;
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
