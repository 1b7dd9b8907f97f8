/**
 * The system: service states, `haproxy -c`, the certificates (expiry, SANs, chain), the
 * hostname, the nameservers and the clock.
 */
import type { NetworkModel } from '../../plan/network.js';
import { nicsOf } from '../expected.js';
import { chainsTo } from '../parse/certs.js';
import { haproxyCheckSummary } from '../parse/haproxy.js';
import { APPLIANCE_PATHS } from '../script.js';
import type { CertInfo, CheckResult } from '../types.js';
import type { Check, CheckContext } from './check.js';
import { DAY, managementAddress, plural, r } from './helpers.js';

/** Warn when a certificate expires within this many days. */
export const CERT_WARN_DAYS = 30;
/** Warn when the appliance's clock is off by more than this many seconds: a minute (issue 13 §5). */
export const CLOCK_SKEW_WARN_S = 60;

function checkServices(input: CheckContext): CheckResult[] {
  const id = 'service';
  const { observed } = input;
  return (observed.services ?? []).map((s) => {
    const how = s.method === 'systemd' ? 'systemd' : 'process list: systemd is not PID 1 there, so by process presence';
    if (s.active)
      return r(
        id,
        'pass',
        `${s.name} is ${s.state}${s.pids.length ? ` (pid ${s.pids.slice(0, 3).join(', ')}${s.pids.length > 3 ? ', …' : ''})` : ''} [${how}]`,
        undefined,
        s.name,
      );
    const unit = s.name === 'sshd' ? 'sshd' : s.name;
    return r(
      id,
      'fail',
      `${s.name} is ${s.state} [${how}]`,
      s.method === 'systemd' ? `systemctl start ${unit}; journalctl -u ${unit} -e` : `start ${s.name} (systemctl start ${unit} on the appliance)`,
      s.name,
    );
  });
}

function checkHaproxyConfig(input: CheckContext): CheckResult {
  const id = 'haproxy.config';
  const c = input.observed.haproxyCheck;
  const ver = input.observed.haproxyVersion ? ` (haproxy ${input.observed.haproxyVersion})` : '';
  if (!c) return r(id, 'warn', 'haproxy -c was not run', 'verify again');
  if ('missing' in c) return r(id, 'fail', 'haproxy is not installed on the appliance', 'install the haproxy package');
  if (c.ok && c.loaded) {
    const { worker, startedAt, cfgChangedAt } = c.loaded;
    return r(
      id,
      'pass',
      `${input.observed.haproxyCfgPath}: valid${ver}: the running haproxy loaded it as it is (worker ${worker} started ${new Date(startedAt * 1000).toISOString()}, after the file's last change at ${new Date(cfgChangedAt * 1000).toISOString()}), so haproxy -c was not rerun`,
    );
  }
  if (c.ok) {
    const warnings = c.output.split('\n').filter((l) => l.includes('[WARNING]')).length;
    return r(
      id,
      'pass',
      `haproxy -c -f ${input.observed.haproxyCfgPath}: valid${ver}${warnings ? ` (${plural(warnings, 'warning')}, the first: ${haproxyCheckSummary(c.output, 1).replace(/^WARNING: /u, '')})` : ''}`,
    );
  }
  if (c.rc === 124) return r(id, 'fail', `haproxy -c timed out${ver}`, 'check resolvers and external files referenced by haproxy.cfg');
  return r(
    id,
    'fail',
    `haproxy -c -f ${input.observed.haproxyCfgPath} fails (exit ${c.rc})${ver}: ${haproxyCheckSummary(c.output)}`,
    'fix haproxy.cfg (a reload keeps the old configuration running until it passes), then systemctl reload haproxy',
  );
}

function expiry(id: string, cert: CertInfo, now: Date, subject: string): CheckResult {
  const to = new Date(cert.validTo).getTime();
  const days = Math.floor((to - now.getTime()) / DAY);
  const renew = cert.ca
    ? 'replace the CA (appliance.ca_cert/ca_cert_key, or blank both to have a new one generated) and rerun haproxy-appliance provision'
    : 'rerun haproxy-appliance provision (it renews the server certificate), then systemctl restart dataplaneapi';
  if (to < now.getTime()) return r(id, 'fail', `${cert.source} (${cert.subject}) expired on ${cert.validTo}`, renew, subject);
  if (new Date(cert.validFrom).getTime() > now.getTime())
    return r(id, 'fail', `${cert.source} is not valid before ${cert.validFrom}`, 'check the appliance clock and the certificate', subject);
  if (days < CERT_WARN_DAYS) return r(id, 'warn', `${cert.source} (${cert.subject}) expires in ${plural(days, 'day')}, on ${cert.validTo}`, renew, subject);
  return r(id, 'pass', `${cert.source} valid until ${cert.validTo.slice(0, 10)} (${days} days)`, undefined, subject);
}

function checkCertExpiry(input: CheckContext): CheckResult[] {
  const { observed } = input;
  const out: CheckResult[] = [];
  const wanted: string[] = [APPLIANCE_PATHS.caCert, APPLIANCE_PATHS.serverCert];
  for (const path of wanted) {
    const cert = observed.certs.find((c) => c.source === path);
    if (!cert) {
      out.push(
        r(
          'cert.expiry',
          'fail',
          `${path} is missing or holds no certificate`,
          'rerun haproxy-appliance provision (it creates the CA and the server certificate)',
          path,
        ),
      );
      continue;
    }
    out.push(expiry('cert.expiry', cert, input.now, path));
  }
  for (const cert of observed.certs.filter((c) => !wanted.includes(c.source))) out.push(expiry('cert.expiry', cert, input.now, cert.source));
  if (input.api?.peer && !observed.certs.some((c) => c.fingerprint256 === input.api!.peer!.fingerprint256)) {
    out.push(expiry('cert.expiry', input.api.peer, input.now, input.api.peer.source));
  }
  return out;
}

function checkCertSans(input: CheckContext): CheckResult[] {
  const server = input.observed.certs.find((c) => c.source === APPLIANCE_PATHS.serverCert);
  const cfg = input.expected?.config;
  if (!server || !cfg) return [];
  const ip = managementAddress(input);
  const wantIps = nicsOf(cfg).flatMap((n) => (n.address ? [n.address.address] : []));
  const wantDns = [cfg.network.hostname];
  const missing = [...wantIps.map((i) => `IP:${i}`), ...wantDns.map((d) => `DNS:${d}`)].filter((s) => !server.sans.includes(s));
  const missMgmt = ip !== undefined && !server.sans.includes(`IP:${ip}`);
  if (missing.length === 0) return [r('cert.sans', 'pass', `${server.source} names ${server.sans.join(', ')}`)];
  return [
    r(
      'cert.sans',
      missMgmt ? 'fail' : 'warn',
      `${server.source} does not name ${missing.join(', ')} (it names ${server.sans.join(', ') || 'nothing'})`,
      'rerun haproxy-appliance provision (it reissues the server certificate when the addresses change), then systemctl restart dataplaneapi',
    ),
  ];
}

function checkCertChain(input: CheckContext): CheckResult[] {
  const { observed } = input;
  const server = observed.certs.find((c) => c.source === APPLIANCE_PATHS.serverCert);
  const ca = observed.certs.find((c) => c.source === APPLIANCE_PATHS.caCert);
  if (!server || !input.expected || !ca) return [];
  if (!chainsTo(server.pem, ca.pem)) {
    return [
      r(
        'cert.chain',
        'fail',
        `${server.source} was not issued by ${ca.source} (${ca.subject})`,
        'rerun haproxy-appliance provision to reissue the server certificate from the CA, then systemctl restart dataplaneapi',
      ),
    ];
  }
  return [r('cert.chain', 'pass', `${server.source} was issued by ${ca.source} (${ca.subject})`)];
}

function checkHostname(input: CheckContext, model: NetworkModel | undefined): CheckResult | undefined {
  const id = 'hostname';
  if (!model) return undefined;
  const want = model.hostname.static;
  const have = input.observed.hostname;
  if (!have) return r(id, 'warn', 'the hostname was not collected', 'verify again');
  if (have === want || have === model.hostname.fqdn) {
    if (input.observed.etcHostname !== undefined && input.observed.etcHostname !== want) {
      return r(
        id,
        'warn',
        `the hostname is ${have}, but /etc/hostname says ${input.observed.etcHostname || '(empty)'}: a reboot changes it`,
        'rerun haproxy-appliance provision',
      );
    }
    return r(id, 'pass', `hostname ${have}`);
  }
  return r(id, 'fail', `the hostname is ${have}, not ${want} (network.hostname)`, `rerun haproxy-appliance provision, or hostnamectl set-hostname ${want}`);
}

function checkDns(input: CheckContext): CheckResult | undefined {
  const id = 'dns';
  const cfg = input.expected?.config;
  if (!cfg) return undefined;
  const want = cfg.network.nameservers;
  const f = input.observed;
  let have = f.resolvConf;
  let from = '/etc/resolv.conf';
  if (have && have.every((n) => n.startsWith('127.')) && f.resolvedUpstream) {
    have = f.resolvedUpstream;
    from = '/run/systemd/resolve/resolv.conf (systemd-resolved)';
  }
  if (!have) return r(id, 'warn', `cannot read /etc/resolv.conf: ${f.sections['resolv.conf']?.stderr || 'not collected'}`, 'check /etc/resolv.conf');
  if (want.length === 0) return r(id, 'pass', `nameservers ${have.join(', ') || 'none'} (from DHCP; network.nameservers is not set)`);
  if (have.length && have.every((n) => n.startsWith('127.')) && !f.resolvedUpstream) {
    return r(id, 'warn', `${from} points at a local resolver (${have.join(', ')}); its upstream servers were not readable`, 'resolvectl dns');
  }
  const missing = want.filter((n) => !have.includes(n));
  const extra = have.filter((n) => !want.includes(n));
  if (missing.length) {
    return r(
      id,
      'fail',
      `${from} lacks ${missing.join(', ')} (network.nameservers: ${want.join(', ')}; it has ${have.join(', ') || 'none'})`,
      'rerun haproxy-appliance provision, then networkctl reload',
    );
  }
  if (extra.length)
    return r(
      id,
      'warn',
      `nameservers ${have.join(', ')} in ${from}: ${extra.join(', ')} not from network.nameservers`,
      'remove the extra nameservers, or add them to network.nameservers',
    );
  return r(id, 'pass', `nameservers ${have.join(', ')} (${from})`);
}

function checkSearchDomains(input: CheckContext): CheckResult | undefined {
  const id = 'dns.search';
  const want = input.expected?.config.network.searchDomains ?? [];
  if (want.length === 0) return undefined;
  const f = input.observed;
  const have = f.resolvSearch;
  const prop = `network.search_domains: ${want.join(', ')}`;
  if (!have) return r(id, 'warn', `cannot read /etc/resolv.conf: ${f.sections['resolv.conf']?.stderr || 'not collected'}`, 'check /etc/resolv.conf');
  const line = have.length ? `search ${have.join(' ')}` : 'no search line';
  const missing = want.filter((d) => !have.includes(d));
  if (missing.length) {
    const stub = (f.resolvConf ?? []).every((n) => n.startsWith('127.'));
    const resolvedHas = f.resolvedSearch !== undefined && want.every((d) => f.resolvedSearch!.includes(d));
    const cause = resolvedHas
      ? `; systemd-resolved has them (/run/systemd/resolve/resolv.conf), but /etc/resolv.conf is not its file`
      : !stub
        ? `; /etc/resolv.conf is not systemd-resolved's stub (nameserver ${(f.resolvConf ?? []).join(', ') || 'none'}), and Domains= reaches it only through resolved`
        : '';
    return r(
      id,
      'fail',
      `/etc/resolv.conf has ${line}, without ${missing.join(', ')} (${prop})${cause}`,
      resolvedHas || !stub
        ? 'ln -sf /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf (the appliance image does so)'
        : 'rerun haproxy-appliance provision, then networkctl reload (20-management.network holds Domains=); resolvectl domain management shows what resolved uses',
    );
  }
  if (have.length !== want.length || have.some((d, i) => d !== want[i]))
    return r(
      id,
      'warn',
      `/etc/resolv.conf has ${line}: ${prop} is there, but ${have.length !== want.length ? `so are ${have.filter((d) => !want.includes(d)).join(', ')}` : 'in another order'}`,
      'resolvectl domain shows which link adds them; set them in network.search_domains if they are wanted',
    );
  return r(id, 'pass', `/etc/resolv.conf has ${line} (network.search_domains)`);
}

function checkClock(input: CheckContext): CheckResult | undefined {
  const t = input.observed.remoteTime;
  if (t === undefined) return undefined;
  const skew = Math.round(t - input.now.getTime() / 1000);
  if (Math.abs(skew) > CLOCK_SKEW_WARN_S) {
    return r(
      'clock',
      'warn',
      `the appliance's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} this workstation's`,
      'check NTP on the appliance (timedatectl; network.ntp_servers) — certificates and logs depend on it',
    );
  }
  return r('clock', 'pass', `the appliance's clock is within ${CLOCK_SKEW_WARN_S} s of this workstation's`);
}

const one = (c: CheckResult | undefined): CheckResult[] => (c ? [c] : []);

export const SYSTEM_CHECKS: readonly Check[] = [
  {
    id: 'service',
    family: 'system',
    subject: 'haproxy, dataplaneapi, sshd, systemd-networkd',
    doc: 'active (systemd) or running (process presence)',
    problems: 'fail: inactive / failed / not running',
    run: (input) => checkServices(input),
  },
  {
    id: 'haproxy.config',
    family: 'system',
    doc: '`haproxy -c -f /etc/haproxy/haproxy.cfg` passes (warnings counted); not rerun when the running haproxy loaded the file as it is (its newest worker started 2 s or more after the last change of the file and of the binary)',
    problems: 'fail: the first ALERT lines; haproxy not installed',
    run: (input) => [checkHaproxyConfig(input)],
  },
  {
    id: 'cert.expiry',
    family: 'system',
    subject: 'file',
    doc: '`/etc/haproxy/ca.crt`, `/etc/haproxy/server.crt` (and the certificate the API serves when it differs) are in date',
    problems: `warn under ${CERT_WARN_DAYS} days; fail: expired, not yet valid, missing`,
    run: (input) => checkCertExpiry(input),
  },
  {
    id: 'cert.sans',
    family: 'system',
    doc: 'server.crt names every static NIC address and the hostname',
    problems: 'fail: the management address is missing; warn: another one is',
    run: (input) => checkCertSans(input),
  },
  {
    id: 'cert.chain',
    family: 'system',
    doc: 'server.crt was issued by ca.crt',
    problems: 'fail otherwise',
    run: (input) => checkCertChain(input),
  },
  {
    id: 'hostname',
    family: 'system',
    doc: 'the kernel hostname is `network.hostname` (as the agent writes /etc/hostname)',
    problems: 'fail: other name; warn: /etc/hostname disagrees (a reboot would change it)',
    run: (input) => one(checkHostname(input, input.model)),
  },
  {
    id: 'dns',
    family: 'system',
    doc: 'the nameservers in use are `network.nameservers`',
    problems: 'fail: one is missing; warn: extra servers, or only a local stub with no readable upstream list',
    run: (input) => one(checkDns(input)),
  },
  {
    id: 'dns.search',
    family: 'system',
    doc: "the search line of /etc/resolv.conf is `network.search_domains` (when set), as systemd-resolved writes it from the management NIC's `Domains=`",
    problems: "fail: a domain is missing (and why: resolv.conf not resolved's); warn: extra domains, or another order",
    run: (input) => one(checkSearchDomains(input)),
  },
  {
    id: 'clock',
    family: 'system',
    doc: `the appliance's clock is within ${CLOCK_SKEW_WARN_S} s of the workstation's`,
    problems: 'warn otherwise (certificates and logs depend on it)',
    run: (input) => one(checkClock(input)),
  },
];
