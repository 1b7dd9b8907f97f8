/**
 * Management: the Data Plane API (its listener, its TLS certificate, an authenticated call) and
 * sshd's listener on the management address.
 */
import { X509Certificate } from 'node:crypto';
import { chainsTo } from '../parse/certs.js';
import { formatEndpoint, isWildcard, listensOn, owners } from '../parse/listeners.js';
import { APPLIANCE_PATHS } from '../script.js';
import type { CheckResult, Status } from '../types.js';
import type { Check, CheckContext } from './check.js';
import { flag, listenerUnknown, managementAddress, noProcessNames, ownedBy, plural, processArgs, r, serviceActive } from './helpers.js';
import { fingerprintOf } from '../../config/ssh-keys.js';

function checkDataplaneListen(input: CheckContext): CheckResult {
  const id = 'dataplane.listen';
  const { observed } = input;
  const ip = managementAddress(input);
  const port = input.expected?.config.loadbalance.dataplanePort;
  if (!ip || port === undefined) return r(id, 'skip', 'not checked: the management address or the Data Plane API port is unknown');
  const want = formatEndpoint(ip, port);
  if (!observed.listeners) return listenerUnknown(id, observed);
  const args = processArgs(observed, 'dataplaneapi')[0];
  const cmdline = args
    ? [
        flag(args, 'tls-host') && `--tls-host=${flag(args, 'tls-host')}`,
        flag(args, 'tls-port') && `--tls-port=${flag(args, 'tls-port')}`,
        flag(args, 'scheme') && `--scheme=${flag(args, 'scheme')}`,
      ]
        .filter(Boolean)
        .join(' ')
    : '';
  const holder = observed.listeners.find((l) => l.port === port && listensOn(l, ip));
  if (holder) {
    if (ownedBy(input, holder, 'dataplaneapi')) {
      const where = isWildcard(holder) ? `all addresses (${formatEndpoint(holder.address, port)}), the management address ${ip} included` : want;
      return r(id, 'pass', `dataplaneapi listens on ${where}`);
    }
    if (holder.processes.length === 0 && noProcessNames(observed))
      return r(
        id,
        'warn',
        `something listens on ${want} but the process is unknown (not collected as root)`,
        'verify as root (--user root) to see process names',
      );
    return r(
      id,
      'fail',
      `${want} (loadbalance.dataplane_port) is held by ${owners(holder)}, not dataplaneapi`,
      `stop what holds port ${port}, then systemctl restart dataplaneapi`,
    );
  }
  const elsewhere = observed.listeners.filter((l) => ownedBy(input, l, 'dataplaneapi'));
  const running = serviceActive(observed, 'dataplaneapi');
  if (elsewhere.length) {
    const at = elsewhere.map((l) => formatEndpoint(l.address, l.port)).join(', ');
    return r(
      id,
      'fail',
      `dataplaneapi listens on ${at}, not on ${want} (loadbalance.dataplane_port ${port})${cmdline ? `; it runs with ${cmdline}` : ''}`,
      `rerun haproxy-appliance provision so the service uses --tls-host=${ip} --tls-port=${port}, then systemctl restart dataplaneapi`,
    );
  }
  if (running === false || (running === undefined && !args)) {
    return r(
      id,
      'fail',
      `nothing listens on ${want}: dataplaneapi is not running`,
      'systemctl status dataplaneapi; journalctl -u dataplaneapi -e (it refuses to start without the userlist controller in haproxy.cfg, or without its TLS certificate and key)',
    );
  }
  return r(
    id,
    'fail',
    `nothing listens on ${want}: dataplaneapi runs but listens on no TCP port${cmdline ? ` (it runs with ${cmdline})` : ''}`,
    'journalctl -u dataplaneapi -e; check its --tls-host, --tls-port and --tls-certificate',
  );
}

function checkDataplaneTls(input: CheckContext, listen: CheckResult | undefined): CheckResult {
  const id = 'dataplane.tls';
  const api = input.api;
  if (!api) return r(id, 'skip', 'not checked: the management address or the Data Plane API port is unknown');
  const at = formatEndpoint(api.address, api.port);
  if (api.error) {
    if (listen?.status === 'fail') return r(id, 'skip', `not checked: no TLS connection to ${at} (${api.error}); see dataplane.listen`);
    return r(
      id,
      'fail',
      `no TLS connection to ${at}: ${api.error}`,
      'check that the Data Plane API runs with --scheme=https and its --tls-certificate/--tls-key',
    );
  }
  const peer = api.peer;
  if (!peer) return r(id, 'fail', `${at} sent no certificate`, 'restart dataplaneapi with --scheme=https');
  const caState = input.expected?.config.appliance.caCert;
  const caDisk = input.observed.certs.find((c) => c.source === APPLIANCE_PATHS.caCert);
  const caPem = caState ?? caDisk?.pem;
  const caName = caState ? 'the CA of appliance.ca_cert' : `the appliance CA (${APPLIANCE_PATHS.caCert})`;
  if (!caPem)
    return r(
      id,
      'fail',
      `cannot verify the certificate of ${at}: ${APPLIANCE_PATHS.caCert} is missing or unreadable`,
      'rerun haproxy-appliance provision to (re)create the CA and the server certificate',
    );
  const via = api.via === 'ssh' ? ' (reached through the SSH connection: the workstation cannot reach it directly)' : '';
  const problems: string[] = [];
  let status: Status = 'pass';
  let remedy: string | undefined;
  if (!chainsTo(peer.pem, caPem)) {
    status = 'fail';
    problems.push(`its certificate (subject ${peer.subject}, issuer ${peer.issuer}) does not chain to ${caName}`);
    remedy = 'rerun haproxy-appliance provision to reissue /etc/haproxy/server.crt from the CA, then systemctl restart dataplaneapi';
  }
  const now = input.now.getTime();
  if (new Date(peer.validTo).getTime() < now) {
    status = 'fail';
    problems.push(`its certificate expired on ${peer.validTo}`);
    remedy ??= 'rerun haproxy-appliance provision (it renews the server certificate), then systemctl restart dataplaneapi';
  } else if (new Date(peer.validFrom).getTime() > now) {
    status = 'fail';
    problems.push(`its certificate is not valid before ${peer.validFrom} (check the clocks)`);
  }
  try {
    if (new X509Certificate(peer.pem).checkIP(api.address) === undefined) {
      status = 'fail';
      problems.push(
        `its certificate does not name ${api.address} (SANs: ${peer.sans.join(', ') || 'none'}), so clients connecting to the management address refuse it`,
      );
      remedy ??= 'rerun haproxy-appliance provision to reissue the server certificate with the management address, then systemctl restart dataplaneapi';
    }
  } catch {
    /* unreadable certificate: chainsTo failed already */
  }
  const onDisk = input.observed.certs.find((c) => c.source === APPLIANCE_PATHS.serverCert || (c.source !== APPLIANCE_PATHS.caCert && !c.ca));
  if (status === 'pass' && onDisk && onDisk.fingerprint256 !== peer.fingerprint256) {
    return r(
      id,
      'warn',
      `${at} answers TLS with a certificate that chains to ${caName}, but not the one in ${onDisk.source}${via}`,
      'the certificate was renewed but dataplaneapi still serves the old one: systemctl restart dataplaneapi',
    );
  }
  if (status === 'pass')
    return r(id, 'pass', `${at} answers TLS with a certificate for ${api.address} that chains to ${caName}, valid until ${peer.validTo.slice(0, 10)}${via}`);
  return r(id, status, `${at} answers TLS, but ${problems.join('; ')}${via}`, remedy);
}

function checkDataplaneApi(input: CheckContext, tls: CheckResult | undefined): CheckResult {
  const id = 'dataplane.api';
  if (!input.apiUser) {
    return r(id, 'skip', 'not checked: no API credentials (give --api-user and --api-password-env, or --expect with loadbalance.haproxy_user and haproxy_pwd)');
  }
  const info = input.api?.info;
  if (!tls || tls.status === 'fail' || tls.status === 'skip' || !info) {
    return r(id, 'skip', `not checked: the credentials are only sent to a server whose certificate verified (see dataplane.tls)`);
  }
  if (info.error) return r(id, 'fail', `GET ${info.path} failed: ${info.error}`, 'journalctl -u dataplaneapi -e');
  if (info.status === 200) return r(id, 'pass', `GET ${info.path} as ${input.apiUser}: Data Plane API ${info.version ?? '(version not reported)'}`);
  if (info.status === 401) {
    return r(
      id,
      'fail',
      `GET ${info.path}: the Data Plane API refused the credentials of ${input.apiUser} (HTTP 401)`,
      'the user and password must match loadbalance.haproxy_user/haproxy_pwd, which the agent writes to the userlist controller of haproxy.cfg; rerun haproxy-appliance provision after changing them, then systemctl restart dataplaneapi',
    );
  }
  return r(id, 'fail', `GET ${info.path}: HTTP ${info.status}`, 'journalctl -u dataplaneapi -e');
}

function checkSshListen(input: CheckContext, sshPort: number): CheckResult {
  const id = 'ssh.listen';
  const { observed } = input;
  const ip = managementAddress(input);
  if (!ip) return r(id, 'skip', 'not checked: the management address is unknown');
  if (!observed.listeners) return listenerUnknown(id, observed);
  const want = formatEndpoint(ip, sshPort);
  const l = observed.listeners.find((x) => x.port === sshPort && listensOn(x, ip) && (ownedBy(input, x, 'sshd') || x.processes.length === 0));
  if (l) {
    const where = isWildcard(l) ? `all addresses (${formatEndpoint(l.address, l.port)}), the management address included; see vip.exposed` : want;
    return r(id, 'pass', `sshd listens on ${where}`);
  }
  const other = observed.listeners.filter((x) => ownedBy(input, x, 'sshd')).map((x) => formatEndpoint(x.address, x.port));
  return r(
    id,
    'fail',
    `sshd does not listen on ${want}${other.length ? `; it listens on ${other.join(', ')}` : ''}`,
    `set ListenAddress ${ip} in /etc/ssh/sshd_config and systemctl restart sshd`,
  );
}

const AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';

/** Root's keys from appliance.ssh_authorized_keys are in authorized_keys, which sshd's StrictModes accepts. */
function checkRootKeys(input: CheckContext): CheckResult {
  const id = 'ssh.root-keys';
  const want = input.expected?.config.appliance.sshAuthorizedKeys ?? [];
  if (!input.expected) return r(id, 'skip', 'not checked: no expected configuration');
  if (want.length === 0)
    return r(id, 'pass', 'appliance.ssh_authorized_keys is blank: the agent manages no key of root (keys added by hand are not its business)');
  const seen = input.observed.sshAccess;
  if (!seen) return r(id, 'warn', "root's keys were not collected", 'verify again (the ssh-access section of the collection did not come back)');
  if (input.observed.uid !== 0 && seen.fingerprints.length === 0)
    return r(id, 'skip', `not checked: /root/.ssh is readable by root only, and the verifier logged in as uid ${input.observed.uid ?? '?'}`);
  const have = new Set(seen.fingerprints);
  const keys = want.map((line) => {
    const [type, blob, ...comment] = line.split(' ');
    return { type: type!, fingerprint: fingerprintOf(blob!), comment: comment.join(' ') };
  });
  const missing = keys.filter((k) => !have.has(k.fingerprint));
  if (missing.length)
    return r(
      id,
      'fail',
      `${AUTHORIZED_KEYS} lacks ${plural(missing.length, 'key')} of appliance.ssh_authorized_keys: ${missing.map((k) => `${k.fingerprint}${k.comment ? ` (${k.comment})` : ''}`).join(', ')}`,
      'rerun haproxy-appliance provision: it writes them into its block of /root/.ssh/authorized_keys',
    );
  const dir = seen.modes['/root/.ssh'];
  const file = seen.modes[AUTHORIZED_KEYS];
  // sshd (StrictModes) ignores keys in a file or folder that others may write, or that another user owns.
  const unsafe = (
    [
      ['/root/.ssh', dir],
      [AUTHORIZED_KEYS, file],
    ] as const
  ).flatMap(([path, m]) => (m && ((m.mode & 0o022) !== 0 || m.owner !== 'root') ? [`${path} is ${m.mode.toString(8)} owned by ${m.owner}`] : []));
  if (unsafe.length)
    return r(
      id,
      'fail',
      `${unsafe.join('; ')}: sshd ignores keys others may write`,
      'chown root:root /root/.ssh /root/.ssh/authorized_keys; chmod 700 /root/.ssh; chmod 600 /root/.ssh/authorized_keys',
    );
  const modes = `${dir ? `/root/.ssh ${dir.mode.toString(8)}` : ''}${file ? `, authorized_keys ${file.mode.toString(8)}` : ''}`;
  if ((dir && dir.mode !== 0o700) || (file && file.mode !== 0o600))
    return r(
      id,
      'warn',
      `${AUTHORIZED_KEYS} holds the ${plural(keys.length, 'key')} of appliance.ssh_authorized_keys, but its modes are ${modes}`,
      'chmod 700 /root/.ssh; chmod 600 /root/.ssh/authorized_keys',
    );
  return r(
    id,
    'pass',
    `${AUTHORIZED_KEYS} holds the ${plural(keys.length, 'key')} of appliance.ssh_authorized_keys (${keys.map((k) => k.fingerprint).join(', ')}); ${modes}, owned by root`,
  );
}

/** sshd's effective PermitRootLogin (sshd -T) is what appliance.permit_root_login says. */
function checkRootLogin(input: CheckContext): CheckResult {
  const id = 'ssh.root-login';
  const v = input.expected?.config.appliance.permitRootLogin;
  if (v === undefined) return r(id, 'skip', 'not checked: no expected configuration');
  const want = v === 'prohibit-password' ? v : v ? 'yes' : 'no';
  const seen = input.observed.sshAccess;
  if (!seen) return r(id, 'warn', "sshd's settings were not collected", 'verify again (the ssh-access section of the collection did not come back)');
  const raw = seen.sshd.permitrootlogin;
  if (raw === undefined)
    return input.observed.uid === 0
      ? r(id, 'warn', "sshd -T did not say sshd's PermitRootLogin", 'run sshd -T on the appliance: it fails when sshd_config is broken')
      : r(id, 'skip', `not checked: sshd -T runs as root only, and the verifier logged in as uid ${input.observed.uid ?? '?'}`);
  // sshd -T prints prohibit-password by its old name.
  const have = raw === 'without-password' ? 'prohibit-password' : raw;
  if (have !== want)
    return r(
      id,
      'fail',
      `sshd's effective PermitRootLogin is ${have}, but appliance.permit_root_login says ${want}`,
      `another file sets it first (sshd takes the first value it reads): check /etc/ssh/sshd_config and /etc/ssh/sshd_config.d/, then rerun haproxy-appliance provision`,
    );
  const password = seen.sshd.passwordauthentication;
  return r(
    id,
    'pass',
    `sshd's effective PermitRootLogin is ${want} (sshd -T)${want === 'prohibit-password' ? ': root logs in with a key only' : ''}${password ? `; PasswordAuthentication ${password}` : ''}`,
  );
}

export const MANAGEMENT_CHECKS: readonly Check[] = [
  {
    id: 'dataplane.listen',
    family: 'management',
    doc: 'dataplaneapi listens on `<management ip>:<dataplane_port>`',
    problems:
      '"dataplaneapi listens on 10.191.181.52:5557, not on 10.191.181.52:5556 (loadbalance.dataplane_port 5556); it runs with --tls-host=… --tls-port=5557"; "… is held by X, not dataplaneapi"; "nothing listens: dataplaneapi is not running"',
    run: (input) => [checkDataplaneListen(input)],
  },
  {
    id: 'dataplane.tls',
    family: 'management',
    needs: ['dataplane.listen'],
    doc: 'a TLS handshake with it (from the workstation; through the SSH connection when the workstation cannot reach the management address) shows a certificate that chains to the appliance CA (`appliance.ca_cert`, else `/etc/haproxy/ca.crt`), is in date and names the management address',
    problems:
      'fail: does not chain / expired / does not name the address / not TLS; warn: serves a certificate other than `/etc/haproxy/server.crt` (renewed but not restarted); skip when `dataplane.listen` failed',
    run: (input, earlier) => [checkDataplaneTls(input, earlier.get('dataplane.listen')?.[0])],
  },
  {
    id: 'dataplane.api',
    family: 'management',
    needs: ['dataplane.tls'],
    doc: 'given credentials, `GET /v2/info` (`/v3/info` when that is 404) answers 200; the API version is reported',
    problems: 'fail: HTTP 401 (credentials refused) or another status; skip without credentials or when the certificate did not verify',
    run: (input, earlier) => [checkDataplaneApi(input, earlier.get('dataplane.tls')?.[0])],
  },
  {
    id: 'ssh.listen',
    family: 'management',
    doc: 'sshd listens on `<management ip>:<ssh port>` (the port the verifier logged in on)',
    problems: 'fail: it does not (and where it does listen)',
    run: (input) => [checkSshListen(input, input.sshPort)],
  },
  {
    id: 'ssh.root-keys',
    family: 'management',
    doc: "root's `/root/.ssh/authorized_keys` holds every key of `appliance.ssh_authorized_keys` (by SHA256 fingerprint, from `ssh-keygen -l`), in a folder and file only root may write (0700, 0600)",
    problems:
      "fail: a key is missing (its fingerprint and comment named), or the folder or file is group/world-writable or not root's (sshd ignores the keys); warn: other modes than 0700/0600; passes when the property is blank; skip when the verifier is not root",
    run: (input) => [checkRootKeys(input)],
  },
  {
    id: 'ssh.root-login',
    family: 'management',
    doc: "sshd's effective `PermitRootLogin` (`sshd -T`) is what `appliance.permit_root_login` says: `yes`, `no` or `prohibit-password`",
    problems: 'fail: another value wins (set earlier in sshd_config); skip when the verifier is not root (sshd -T needs root)',
    run: (input) => [checkRootLogin(input)],
  },
];
