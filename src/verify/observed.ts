/**
 * From the collection script's sections to what was observed on the appliance (`Observed`).
 * Pure: a parser that fails leaves its field undefined and says why, so one odd output never
 * hides the other checks. (Not the provisioning facts stage: that reads the local machine.)
 */
import { APPLIANCE_PATHS } from './script.js';
import { parseAddrs, parseRoutes, parseRtTables, parseRules, tableNumber } from './parse/ip.js';
import { parseNetstat, parseSs } from './parse/listeners.js';
import { parseBinds, parseHaproxyVersion } from './parse/haproxy.js';
import { parseCertSection } from './parse/certs.js';
import { parseMeta, parseProcesses, parseResolvConf, parseResolvSearch, serviceStates } from './parse/system.js';
import { parseSshAccess } from './parse/ssh-access.js';
import type { LoadedEvidence, Observed, SectionInfo } from './types.js';

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  );
}

/** The `haproxy-loaded` section: `worker PID started T cfg-changed C binary-changed B`. */
function loadedEvidence(text: string): LoadedEvidence | undefined {
  const m = /^worker (\d+) started (\d+) cfg-changed (\d+) binary-changed \d+$/u.exec(firstLine(text));
  return m ? { worker: Number(m[1]), startedAt: Number(m[2]), cfgChangedAt: Number(m[3]) } : undefined;
}

/** Why a section gave nothing usable: its stderr, or its exit code. */
function why(s: SectionInfo | undefined, what: string): string {
  if (!s) return `${what} was not collected`;
  const err = firstLine(s.stderr);
  return `${what} failed${s.rc !== undefined ? ` (exit ${s.rc})` : ''}${err ? `: ${err}` : ''}`;
}

export function observedFromSections(sections: Record<string, SectionInfo>): Observed {
  const f: Observed = { sections, certs: [], missingCerts: [], haproxyCfgPath: APPLIANCE_PATHS.haproxyCfg };
  const ok = (name: string) => sections[name] !== undefined && sections[name].rc === 0;

  const meta = parseMeta(sections.meta?.stdout ?? '');
  if (meta.uid !== undefined) f.uid = meta.uid;
  if (meta.time !== undefined) f.remoteTime = meta.time;
  if (meta.hostname) f.hostname = meta.hostname;
  if (ok('etc-hostname')) f.etcHostname = firstLine(sections['etc-hostname']!.stdout);
  if (ok('resolv.conf')) {
    f.resolvConf = parseResolvConf(sections['resolv.conf']!.stdout);
    f.resolvSearch = parseResolvSearch(sections['resolv.conf']!.stdout);
  }
  if (ok('resolved-upstream')) {
    f.resolvedUpstream = parseResolvConf(sections['resolved-upstream']!.stdout);
    f.resolvedSearch = parseResolvSearch(sections['resolved-upstream']!.stdout);
  }

  if (sections['listeners.ss']) {
    f.listenerTool = 'ss';
    if (ok('listeners.ss')) f.listeners = parseSs(sections['listeners.ss'].stdout);
    else f.listenerProblem = why(sections['listeners.ss'], 'ss -Htnlp');
  } else if (sections['listeners.netstat']) {
    f.listenerTool = 'netstat';
    if (ok('listeners.netstat')) f.listeners = parseNetstat(sections['listeners.netstat'].stdout);
    else f.listenerProblem = why(sections['listeners.netstat'], 'netstat -tnlp');
  } else {
    f.listenerProblem = 'neither ss nor netstat is installed on the appliance';
  }

  const ipProblems: string[] = [];
  const pick = (name: string) => (ok(name) ? sections[name] : ok(`${name}.text`) ? sections[`${name}.text`] : undefined);
  const tryParse = <T>(name: string, parse: (t: string) => T): T | undefined => {
    const s = pick(name);
    if (!s) {
      ipProblems.push(why(sections[name], name.replace('.', ' ')));
      return undefined;
    }
    try {
      return parse(s.stdout);
    } catch (err) {
      ipProblems.push(`${name}: ${(err as Error).message}`);
      return undefined;
    }
  };
  if (sections['ip.addr'] || sections['ip.route'] || sections['ip.rule']) {
    const addrs = tryParse('ip.addr', parseAddrs);
    const routes = tryParse('ip.route', parseRoutes);
    const rules = tryParse('ip.rule', parseRules);
    // ip prints table names from rt_tables (the agent installs `200 workload`): compare numbers.
    const names = parseRtTables(sections['rt-tables']?.stdout ?? '');
    if (addrs) f.interfaces = addrs;
    if (routes) f.routes = routes.map((r) => ({ ...r, table: tableNumber(r.table, names) }));
    if (rules) f.rules = rules.map((r) => (r.table === undefined ? r : { ...r, table: tableNumber(r.table, names) }));
  } else ipProblems.push('the ip command (iproute2) is not installed on the appliance');
  if (ipProblems.length) f.ipProblem = ipProblems.join('; ');

  f.processes = parseProcesses(sections.processes?.stdout ?? '');
  const systemctl = meta.systemd && sections.systemctl ? sections.systemctl.stdout : undefined;
  f.services = serviceStates({ ...(systemctl !== undefined && { systemctl }), processes: f.processes, ...(meta.selfNetns && { selfNetns: meta.selfNetns }) });
  f.serviceMethod = systemctl !== undefined ? 'systemd' : 'process';

  const loaded = sections['haproxy-loaded']?.rc === 0 ? loadedEvidence(sections['haproxy-loaded'].stdout) : undefined;
  if (sections['haproxy-missing']) f.haproxyCheck = { missing: true };
  else if (loaded) f.haproxyCheck = { ok: true, rc: 0, output: '', loaded };
  else if (sections['haproxy-check']) {
    const s = sections['haproxy-check'];
    f.haproxyCheck = { ok: s.rc === 0, rc: s.rc ?? -1, output: `${s.stdout}\n${s.stderr}`.trim() };
  }
  if (sections['haproxy-version']) {
    const v = parseHaproxyVersion(`${sections['haproxy-version'].stdout}\n${sections['haproxy-version'].stderr}`);
    if (v) f.haproxyVersion = v;
  }
  // grep exits 1 when no line matches (a file with no section).
  const lines = sections['haproxy-cfg-lines'];
  if (lines && (lines.rc === 0 || lines.rc === 1)) f.binds = parseBinds(lines.stdout, { numbered: true });
  else if (ok('haproxy-cfg')) f.binds = parseBinds(sections['haproxy-cfg']!.stdout);
  if (ok('haproxy-cfg-mtime')) {
    const t = Number(firstLine(sections['haproxy-cfg-mtime']!.stdout));
    if (Number.isFinite(t)) f.haproxyCfgMtime = t;
  }
  if (sections.certs) {
    const c = parseCertSection(sections.certs.stdout);
    f.certs = c.certs;
    f.missingCerts = c.missing;
  }
  if (ok('state')) f.stateText = sections.state!.stdout;
  if (ok('ssh-access')) f.sshAccess = parseSshAccess(sections['ssh-access']!.stdout);
  return f;
}
