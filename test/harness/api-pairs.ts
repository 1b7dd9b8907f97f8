/**
 * A Supervisor with thousands of LoadBalancer services, as the Data Plane API writes them into
 * haproxy.cfg: one frontend/backend pair per service, in the form of the seed's sections
 * (test/fixtures/haproxy/api-sections.cfg), with the VIPs spread over a service range. Pure.
 */

const DOMAIN = 'domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e';

export interface PairOptions {
  /** The VIPs, used in turn (pair i binds vips[i % vips.length]). Default: the seed's 192.168.0.1-254. */
  vips?: readonly string[];
  /** The first port; each pass over the VIPs takes the next one. Default 30000. */
  firstPort?: number;
  /** The backends' servers, `address:port` (default three control-plane-like VMs on the workload network). */
  servers?: readonly string[];
  /** Health checks on the servers, as the API writes them (default true; off where nothing listens behind them). */
  check?: boolean;
}

/** The seed's service range 192.168.0.0/24, host addresses 1-254. */
export const SEED_RANGE_VIPS: readonly string[] = Array.from({ length: 254 }, (_, i) => `192.168.0.${i + 1}`);

export interface ApiPairs {
  /** The sections, each followed by a blank line, as the API serializes them. */
  text: string;
  /** `address:port` of every frontend's bind, in order. */
  listeners: string[];
}

/** `n` frontend/backend pairs, `guest-cluster-<i>` in namespace `ns-<i / 100>`. */
export function apiPairs(n: number, opts: PairOptions = {}): ApiPairs {
  const vips = opts.vips ?? SEED_RANGE_VIPS;
  const firstPort = opts.firstPort ?? 30000;
  const servers = opts.servers ?? ['192.168.128.0:6443', '192.168.128.1:6443', '192.168.128.2:6443'];
  const check = opts.check ?? true;
  const parts: string[] = [];
  const listeners: string[] = [];
  for (let i = 0; i < n; i++) {
    const vip = vips[i % vips.length]!;
    const port = firstPort + Math.floor(i / vips.length);
    const svc = `${DOMAIN}-ns-${Math.floor(i / 100)}-guest-cluster-${i}-control-plane-service`;
    listeners.push(`${vip}:${port}`);
    parts.push(
      `frontend ${svc}
  mode tcp
  bind ${vip}:${port} name ${svc}-${vip}:apiserver
  log-tag ${svc}
  option tcplog
  use_backend ${svc}-apiserver if { dst_port ${port} }

backend ${svc}-apiserver
  mode tcp
  balance roundrobin
  option tcp-check
  log-tag ${svc}-apiserver
${servers.map((s) => `  server ${svc}-${s} ${s}${check ? ' check' : ''} weight 100${check ? ' verify none' : ''}`).join('\n')}

`,
    );
  }
  return { text: parts.join(''), listeners };
}
