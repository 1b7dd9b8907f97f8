/*
 * A stand-in for the Data Plane API's writes to haproxy.cfg, for the lost-update test. The real
 * API binary is not in Debian or npm and there is no internet here, so this does what its
 * config-parser (haproxytech/config-parser v4, parser `save`) does when it saves: flock(2) on
 * haproxy.cfg (gofrs/flock: open the path, LOCK_EX), write a temporary file in the same folder and
 * rename it over the path (google/renameio `maybe.WriteFile`), unlock. Each save adds a
 * frontend/backend pair (a Kubernetes LoadBalancer service) or deletes one it added, and bumps the
 * `# _version=N` line, as the API does.
 *
 * Usage: node dataplane-writer.cjs HAPROXY_CFG PAUSE_MS
 * Runs until SIGTERM, then prints {"services": [...], "saves": N} — the services it believes exist
 * — and exits. The lock is taken with util-linux flock(1) on an inherited descriptor, like
 * `exec 9<file; flock 9` (the lock belongs to our open file description).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const [cfg, pauseText] = process.argv.slice(2);
const pause = Number(pauseText);
const services = new Set();
let next = 0;
let saves = 0;
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

function pair(name, n) {
  return (
    `frontend ${name}\n  mode tcp\n  bind 192.168.${Math.floor(n / 250) % 250}.${(n % 250) + 1}:6443 name ${name}-bind\n  default_backend ${name}\n\n` +
    `backend ${name}\n  mode tcp\n  balance roundrobin\n  server ${name}-0 172.16.10.${(n % 250) + 1}:6443 check weight 100\n`
  );
}

/** Sections by header line; each section's text up to the next header. */
function split(text) {
  const out = [];
  let preamble = '';
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) || []) {
    if (/^(global|defaults|frontend|backend|listen|userlist|peers|resolvers)\b/.test(line)) out.push({ head: line.trim(), text: line });
    else if (out.length) out[out.length - 1].text += line;
    else preamble += line;
  }
  return { preamble, sections: out };
}

function save() {
  const fd = fs.openSync(cfg, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o644);
  try {
    const r = spawnSync('flock', ['-x', '3'], { stdio: ['ignore', 'ignore', 'inherit', fd] });
    if (r.status !== 0) throw new Error(`flock failed: ${r.status}`);
    const text = fs.readFileSync(cfg, 'utf8');
    const { preamble, sections } = split(text);
    const version = Number((/^# _version=(\d+)/m.exec(preamble) || [])[1] || 0) + 1;
    let kept = sections;
    const mine = [...services];
    if (mine.length > 3 && Math.random() < 0.4) {
      const gone = mine[Math.floor(Math.random() * mine.length)];
      services.delete(gone);
      kept = sections.filter((s) => s.head !== `frontend ${gone}` && s.head !== `backend ${gone}`);
    }
    const name = `svc-${process.pid}-${next}`;
    services.add(name);
    let body = `# _version=${version}\n${preamble.replace(/^# _version=\d+\n?/m, '')}${kept.map((s) => s.text).join('')}`;
    if (!body.endsWith('\n\n')) body += body.endsWith('\n') ? '\n' : '\n\n';
    body += pair(name, next++);
    const tmp = path.join(path.dirname(cfg), `.${path.basename(cfg)}${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, body, { mode: 0o644 });
    fs.renameSync(tmp, cfg);
    saves++;
  } finally {
    fs.closeSync(fd); // drops the lock
  }
}

function loop() {
  if (stopping) {
    process.stdout.write(`${JSON.stringify({ services: [...services].sort(), saves })}\n`);
    return;
  }
  save();
  setTimeout(loop, Math.random() * pause);
}
loop();
