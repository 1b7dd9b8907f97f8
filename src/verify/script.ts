/**
 * The one remote command: a POSIX sh script that prints every fact the checks need, section by
 * section, in one SSH round trip. It only reads (no temp files, no writes) and degrades when a
 * tool is missing: each section prints its command's exit code, and the parsers say which tool
 * was used or why a fact is unknown. Private keys are never printed: certificate files go
 * through a filter that keeps only `BEGIN CERTIFICATE` blocks.
 *
 * Framing: a section starts with the line `<marker> <name>` on stdout AND on stderr and ends
 * with `<marker>-rc <name> <code>` on stdout. The marker carries a random token per run, so no
 * file content can forge a section boundary.
 *
 * `haproxy -c` runs only when the running haproxy has not loaded haproxy.cfg as it is now (see
 * `loaded`): with 10,000 Data Plane API services it takes most of a second of CPU and 300 MB on
 * the appliance (bench/README.md, "verify at scale"). When it runs, it runs beside the rest of
 * the script, not after it: it is the left side of a pipe whose right side prints every other
 * section and then copies the check's section through (`cat`), so the two never interleave. Its
 * section (`haproxy-check`, or `haproxy-loaded` with the evidence) is the last one, on stdout
 * only: the check's stderr goes with its stdout (the verifier reads them together anyway).
 */
import { randomBytes } from 'node:crypto';
import { BIND_LINES_ERE } from './parse/haproxy.js';

/**
 * Paths the verifier reads on the appliance: the agent's (a test holds them equal to
 * src/appliance/paths.ts, which is not imported here to keep the verifier's start-up small).
 */
export const APPLIANCE_PATHS = {
  haproxyCfg: '/etc/haproxy/haproxy.cfg',
  /** The appliance CA and the Data Plane API's server certificate (as on today's OVA). */
  caCert: '/etc/haproxy/ca.crt',
  serverCert: '/etc/haproxy/server.crt',
  state: '/var/lib/haproxy-appliance/state.json',
} as const;

export function newMarker(): string {
  return `@@hpa-${randomBytes(8).toString('hex')}@@`;
}

/** The script for one run. `marker` must come from {@link newMarker}. */
export function collectionScript(marker: string): string {
  if (!/^@@hpa-[0-9a-f]{16}@@$/u.test(marker)) throw new Error('internal: bad marker');
  const p = APPLIANCE_PATHS;
  return `LC_ALL=C; export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
M='${marker}'
has() { command -v "$1" >/dev/null 2>&1; }
sec() { n=$1; shift; printf '%s %s\\n' "$M" "$n"; printf '%s %s\\n' "$M" "$n" >&2; "$@"; rc=$?; printf '\\n%s-rc %s %s\\n' "$M" "$n" "$rc"; }
if has timeout; then TO='timeout 15'; else TO=; fi
meta() {
  printf 'uid %s\\n' "$(id -u 2>/dev/null)"
  printf 'time %s\\n' "$(date +%s)"
  printf 'hostname %s\\n' "$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname)"
  printf 'selfnet %s\\n' "$(readlink /proc/$$/ns/net 2>/dev/null)"
  if [ -d /run/systemd/system ] && has systemctl; then echo 'systemd yes'; else echo 'systemd no'; fi
}
HAPROXY=$(command -v haproxy 2>/dev/null || { [ -x /usr/sbin/haproxy ] && echo /usr/sbin/haproxy; })
# Prints a section on stdout alone (hcheck's: the pipe below carries it, and its stderr with it).
secout() { n=$1; shift; printf '%s %s\\n' "$M" "$n"; "$@"; rc=$?; printf '\\n%s-rc %s %s\\n' "$M" "$n" "$rc"; }
# Whether the running haproxy loaded haproxy.cfg as it is now: its newest worker (a haproxy forked
# by a haproxy run with -f haproxy.cfg, in this network namespace) started 2 s or more after the
# last change of the file and of the haproxy binary (ctime, which no tool sets back). A master
# forks workers only once the file has passed its own check; a reload that failed leaves the old
# workers, older than the change. Prints the evidence; fails when there is none.
loaded() {
  has ps && has stat || return 1
  self=$(readlink /proc/$$/ns/net 2>/dev/null | tr -cd 0-9)
  now=$(date +%s)
  c=$(stat -c %Z ${p.haproxyCfg} 2>/dev/null) && b=$(stat -L -c %Z "$HAPROXY" 2>/dev/null) || return 1
  w=$(ps -e -o pid=,ppid=,netns=,etimes=,comm=,args= 2>/dev/null | awk -v self="$self" -v f=' -f ${p.haproxyCfg.replaceAll('.', '[.]')}( |$)' '
    $5 == "haproxy" && $3 == self && self != "" && $0 ~ f && $0 !~ / -c / { pid[$1] = 1; parent[$1] = $2; age[$1] = $4 }
    END { for (x in pid) if ((parent[x] in pid) && (best == "" || age[x] < age[best])) best = x; if (best != "") print best, age[best] }')
  [ -n "$w" ] || return 1
  set -- $w
  started=$((now - $2))
  [ "$started" -ge $((c + 2)) ] && [ "$started" -ge $((b + 2)) ] || return 1
  echo "worker $1 started $started cfg-changed $c binary-changed $b"
}
# haproxy -c, unless the running haproxy loaded the file as it is (at 10,000 Data Plane API
# services, -c takes most of a second of CPU and 300 MB on the appliance, at every verify).
hcheck() {
  [ -n "$HAPROXY" ] || return 0
  if L=$(loaded); then secout haproxy-loaded echo "$L"; return 0; fi
  secout haproxy-check $TO "$HAPROXY" -c -f ${p.haproxyCfg} 2>&1
}
certs() {
  tls=$(ps -C dataplaneapi -o args= 2>/dev/null | sed -n 's/.*--tls-certificate[= ]\\([^ ]*\\).*/\\1/p' | head -n 1)
  for f in ${p.caCert} ${p.serverCert} $tls; do
    printf 'file %s\\n' "$f"
    if [ -r "$f" ]; then sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$f"; else echo 'unreadable'; fi
  done
}
# Table names (rt_tables, rt_tables.d: the agent names 200 workload, 201 frontend) for ip's output.
rttables() { cat /etc/iproute2/rt_tables /etc/iproute2/rt_tables.d/*.conf /usr/share/iproute2/rt_tables /usr/share/iproute2/rt_tables.d/*.conf 2>/dev/null; return 0; }
# The processes of the services; not the haproxy -c that runs beside (hcheck), nor, once it has
# ended, its zombie ([haproxy]: no command line, as a kernel thread).
procs() {
  if out=$(ps -e -o pid=,netns=,etimes=,comm=,args= 2>/dev/null); then
    echo 'fields pid netns etimes comm args'
    printf '%s\\n' "$out" | awk -v c=" -c -f ${p.haproxyCfg}" '$4 ~ /^(haproxy|dataplaneapi|sshd|systemd-network)/ && index($0, c) == 0 && $5 !~ /^\\[/ { print substr($0, 1, 600) }'
  elif out=$(ps -e -o pid=,etimes=,comm=,args= 2>/dev/null); then
    echo 'fields pid etimes comm args'
    printf '%s\\n' "$out" | awk -v c=" -c -f ${p.haproxyCfg}" '$3 ~ /^(haproxy|dataplaneapi|sshd|systemd-network)/ && index($0, c) == 0 && $4 !~ /^\\[/ { print substr($0, 1, 600) }'
  else
    echo 'fields none'; return 1
  fi
}
# Root's SSH access (appliance.ssh_authorized_keys, appliance.permit_root_login): the modes of
# ~/.ssh and authorized_keys, the keys' fingerprints (ssh-keygen -l: never the keys themselves),
# and sshd's effective settings (sshd -T: as root only).
sshaccess() {
  stat -c 'mode %a %U %n' /root/.ssh /root/.ssh/authorized_keys 2>/dev/null
  if [ -r /root/.ssh/authorized_keys ] && has ssh-keygen; then ssh-keygen -l -E sha256 -f /root/.ssh/authorized_keys 2>/dev/null | sed 's/^/key /'; fi
  SSHD=$(command -v sshd 2>/dev/null || { [ -x /usr/sbin/sshd ] && echo /usr/sbin/sshd; })
  if [ -n "$SSHD" ] && [ "$(id -u)" = 0 ]; then $TO "$SSHD" -T 2>/dev/null | grep -Ei '^(permitrootlogin|pubkeyauthentication|passwordauthentication) ' | sed 's/^/sshd /'; fi
  return 0
}
# Every other section, in order (state.json and the certificates first: the verifier probes the
# Data Plane API as soon as they are in).
sections() {
  sec meta meta
  sec state cat ${p.state}
  sec certs certs
  sec etc-hostname cat /etc/hostname
  sec resolv.conf cat /etc/resolv.conf
  if [ -r /run/systemd/resolve/resolv.conf ]; then sec resolved-upstream cat /run/systemd/resolve/resolv.conf; fi
  if has ss; then sec listeners.ss ss -Htnlp
  elif has netstat; then sec listeners.netstat netstat -tnlp
  else sec listeners.none false; fi
  if has ip; then
    sec rt-tables rttables
    sec ip.addr ip -j addr
    [ "$rc" = 0 ] || sec ip.addr.text ip addr
    sec ip.route ip -4 -j route show table all
    [ "$rc" = 0 ] || sec ip.route.text ip -4 route show table all
    sec ip.rule ip -4 -j rule
    [ "$rc" = 0 ] || sec ip.rule.text ip -4 rule
  fi
  sec processes procs
  if [ -d /run/systemd/system ] && has systemctl; then
    sec systemctl systemctl is-active haproxy dataplaneapi sshd ssh systemd-networkd
  fi
  if [ -n "$HAPROXY" ]; then sec haproxy-version "$HAPROXY" -v; else sec haproxy-missing false; fi
  # Only the lines the verifier reads (section headers, bind, disabled), numbered; all of it without grep.
  if has grep; then sec haproxy-cfg-lines grep -a -n -E '${BIND_LINES_ERE}' ${p.haproxyCfg}; fi
  if ! has grep || [ "$rc" -gt 1 ]; then sec haproxy-cfg cat ${p.haproxyCfg}; fi
  sec haproxy-cfg-mtime stat -c %Y ${p.haproxyCfg}
  sec ssh-access sshaccess
}
hcheck </dev/null | { sections </dev/null; cat; }
exit 0
`;
}

/** The lines of `text` that start with `marker`: the line, where it starts and where it ends (its newline or the end). */
function* markerLines(text: string, marker: string): Generator<{ line: string; start: number; end: number }> {
  for (let i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + 1)) {
    if (i > 0 && text.charCodeAt(i - 1) !== 10) continue;
    const nl = text.indexOf('\n', i);
    const end = nl < 0 ? text.length : nl;
    yield { line: text.slice(i, end), start: i, end };
  }
}

/**
 * Splits the script's stdout and stderr into sections. Pure. Only the marker's lines are looked
 * at, and a section's text is a slice of the output between them: no array of every line and no
 * second copy of the output (at 10,000 Data Plane API pairs, 160,000 lines and 11 MB).
 */
export function splitSections(marker: string, stdout: string, stderr: string): Record<string, { rc?: number; stdout: string; stderr: string }> {
  const out: Record<string, { rc?: number; stdout: string; stderr: string }> = {};
  const startRe = new RegExp(`^${marker} (\\S+)$`, 'u');
  const endRe = new RegExp(`^${marker}-rc (\\S+) (\\d+)$`, 'u');
  let cur: string | undefined;
  // Where the current section's first line starts.
  let from = 0;
  /** Ends the current section before the line that starts at `at` (the whole rest without). */
  const flush = (at?: number, rc?: number) => {
    if (cur === undefined) return;
    let text = at === undefined ? stdout.slice(from) : at > from ? stdout.slice(from, at - 1) : '';
    // The end marker is printed after a newline of its own; drop that one.
    if (rc !== undefined && text.endsWith('\n')) text = text.slice(0, -1);
    const s = (out[cur] ??= { stdout: '', stderr: '' });
    s.stdout = text;
    if (rc !== undefined) s.rc = rc;
  };
  for (const m of markerLines(stdout, marker)) {
    const start = startRe.exec(m.line);
    if (start) {
      flush(m.start);
      cur = start[1]!;
      from = m.end + 1;
      continue;
    }
    const end = endRe.exec(m.line);
    if (end && end[1] === cur) {
      flush(m.start, Number(end[2]));
      cur = undefined;
    }
    // Any other line that starts with the marker is content.
  }
  flush();
  // stderr: the start markers only.
  let errCur: string | undefined;
  let errFrom = 0;
  const flushErr = (at?: number) => {
    if (errCur === undefined) return;
    const s = (out[errCur] ??= { stdout: '', stderr: '' });
    s.stderr = (at === undefined ? stderr.slice(errFrom) : at > errFrom ? stderr.slice(errFrom, at - 1) : '').trim();
  };
  for (const m of markerLines(stderr, marker)) {
    const start = startRe.exec(m.line);
    if (!start) continue;
    flushErr(m.start);
    errCur = start[1]!;
    errFrom = m.end + 1;
  }
  flushErr();
  return out;
}
