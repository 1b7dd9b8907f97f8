/*
 * A stand-in for the HAProxy Data Plane API, for the verifier's integration tests only: the real
 * binary is not in Debian or npm and there is no internet here. The bed copies this file to
 * <tmp>/bin/dataplaneapi with `#!<node>` on top, so the process (and `ss -p`) is called
 * `dataplaneapi`, and starts it with the real API's flags. It serves HTTPS on
 * --tls-host:--tls-port with --tls-certificate/--tls-key and answers GET /v2/info (and
 * /v2/health) with HTTP Basic auth checked against the `insecure-password` users of the
 * --userlist in --config-file, as the real API does; /v3/* is 404 (it plays a 2.x API).
 */
'use strict';
const https = require('node:https');
const fs = require('node:fs');

const flags = {};
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (m) flags[m[1]] = m[2] === undefined ? true : m[2];
}

function users() {
  const text = fs.readFileSync(flags['config-file'] || '/etc/haproxy/haproxy.cfg', 'utf8');
  const out = new Map();
  let inList = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (/^(global|defaults|frontend|backend|listen|userlist|peers|resolvers)\b/.test(line)) {
      inList = line === `userlist ${flags.userlist || 'controller'}`;
      continue;
    }
    const m = inList && /^user\s+(\S+)\s+insecure-password\s+(\S+)/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

const list = users();
if (list.size === 0) {
  process.stderr.write(`dataplaneapi: userlist ${flags.userlist || 'controller'} has no user\n`);
  process.exit(1);
}

const server = https.createServer({ cert: fs.readFileSync(flags['tls-certificate']), key: fs.readFileSync(flags['tls-key']) }, (req, res) => {
  const auth = /^Basic (.+)$/.exec(req.headers.authorization || '');
  const [user, ...rest] = auth ? Buffer.from(auth[1], 'base64').toString('utf8').split(':') : [];
  const ok = user !== undefined && list.get(user) === rest.join(':');
  res.setHeader('Content-Type', 'application/json');
  if (!ok) {
    res.statusCode = 401;
    res.setHeader('WWW-Authenticate', 'Basic realm="HAProxy Data Plane API"');
    res.end('{"code":401,"message":"unauthorized"}\n');
    return;
  }
  if (req.method === 'GET' && req.url === '/v2/info') {
    res.end(JSON.stringify({ api: { build_date: '2020-11-20T12:00:00.000Z', version: 'v2.1.0 standin' }, system: {} }) + '\n');
  } else if (req.method === 'GET' && req.url === '/v2/health') {
    res.end('{"haproxy":"up"}\n');
  } else {
    res.statusCode = 404;
    res.end('{"code":404,"message":"not found"}\n');
  }
});
server.on('error', (e) => {
  process.stderr.write(`dataplaneapi: ${e.message}\n`);
  process.exit(1);
});
server.listen(Number(flags['tls-port'] || 5556), flags['tls-host'] || '0.0.0.0', () => process.stdout.write('READY\n'));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
