#!/usr/bin/env node
'use strict';
/**
 * Starts the single-file build (haproxy-appliance.cjs, beside this file) with V8's code cache:
 * the code a previous run compiled is reused instead of parsing and compiling 1.3 MB again,
 * which takes about a third off every start (start-up is part of first-boot time, and of every
 * `verify` an admin runs). One cache per command, written when there is none or V8 rejects it
 * (another node, another build), atomically, after the run (so the functions it compiled are in):
 *   - beside the build, haproxy-appliance.cjs.<command>.cache, where this process may write there
 *     (root for the agent on the appliance; a user's own npm prefix);
 *   - else, for a user other than root (the build installed by root, `sudo npm install -g`), in
 *     that user's cache folder, $XDG_CACHE_HOME/haproxy-appliance or ~/.cache/haproxy-appliance
 *     (mode 0700, files 0600), named after the command, a hash of the build's text and the node
 *     version, and used only when that user owns it and nobody else may write it;
 *   - else (root on a read-only install) one made there before is used, if any, and none written.
 * V8 itself rejects a cache made by another V8 or with other flags.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = path.join(__dirname, 'haproxy-appliance.cjs');
// One cache per command: each compiles a different part of the build (provision, verify, …).
const command = /^[a-z][a-z-]{0,30}$/u.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
// A `#!` line (esbuild keeps src/bin.ts's) is not JavaScript inside the module wrapper.
const source = fs.readFileSync(file, 'utf8').replace(/^#!.*/u, '');

/** Where the cache is read from and written to, and how the folder is made; undefined: none. */
function cacheLocation() {
  const beside = { file: `${file}.${command}.cache` };
  try {
    fs.accessSync(__dirname, fs.constants.W_OK);
    return beside;
  } catch {
    /* not ours to write: a user's own cache, below */
  }
  // Root on a read-only install: a cache made there before, if any, else none.
  if (typeof process.getuid !== 'function' || process.getuid() === 0) return beside;
  const home = process.env.XDG_CACHE_HOME;
  let dir;
  try {
    dir = path.join(home && path.isAbsolute(home) ? home : path.join(require('node:os').homedir(), '.cache'), 'haproxy-appliance');
  } catch {
    return undefined;
  }
  const hash = require('node:crypto').createHash('sha256').update(source).update(`\0${process.version}\0${process.arch}`).digest('hex').slice(0, 32);
  return { file: path.join(dir, `${command}-${hash}.cache`), dir };
}

/** The cache's bytes, when there is one this process may trust. */
function readCache(loc) {
  try {
    if (loc.dir) {
      // Someone else's cache would run someone else's code: only the user's own, writable by nobody else.
      const st = fs.statSync(loc.file);
      if (!st.isFile() || st.uid !== process.getuid() || (st.mode & 0o022) !== 0) return undefined;
      const d = fs.statSync(loc.dir);
      if (d.uid !== process.getuid() || (d.mode & 0o022) !== 0) return undefined;
    }
    return fs.readFileSync(loc.file);
  } catch {
    return undefined;
  }
}

const loc = cacheLocation();
const cachedData = loc && readCache(loc);
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
if (loc && (cachedData === undefined || script.cachedDataRejected)) {
  // After the run, so that the functions it compiled are in the cache too.
  process.once('exit', () => {
    try {
      if (loc.dir) fs.mkdirSync(loc.dir, { recursive: true, mode: 0o700 });
      const tmp = `${loc.file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: loc.dir ? 0o600 : 0o644 });
      fs.renameSync(tmp, loc.file);
    } catch {
      /* a read-only or foreign install: run without a cache */
    }
  });
}
const bundle = { exports: {} };
script.runInThisContext()(bundle.exports, Module.createRequire(file), bundle, file, __dirname);
