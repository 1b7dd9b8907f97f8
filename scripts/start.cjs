#!/usr/bin/env node
'use strict';
/**
 * Starts the single-file build (haproxy-appliance.cjs, beside this file) with V8's code cache:
 * the code a previous run compiled is reused instead of parsing and compiling 1.3 MB again,
 * which takes about a third off every start (start-up is part of first-boot time). The cache,
 * haproxy-appliance.cjs.<command>.cache, is written when there is none or V8 rejects it (another
 * node, another build), atomically and only where this process may write (root, for the agent).
 * Node checks that a cache belongs to this source and this V8; a stale one is just not used.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = path.join(__dirname, 'haproxy-appliance.cjs');
// One cache per command: each compiles a different part of the build (provision, verify, …).
const command = /^[a-z][a-z-]{0,30}$/u.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
const cacheFile = `${file}.${command}.cache`;
// A `#!` line (esbuild keeps src/bin.ts's) is not JavaScript inside the module wrapper.
const source = fs.readFileSync(file, 'utf8').replace(/^#!.*/u, '');
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
if (cachedData === undefined || script.cachedDataRejected) {
  // After the run, so that the functions it compiled are in the cache too.
  process.once('exit', () => {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
      fs.renameSync(tmp, cacheFile);
    } catch {
      /* a read-only or foreign install: run without a cache */
    }
  });
}
const bundle = { exports: {} };
script.runInThisContext()(bundle.exports, Module.createRequire(file), bundle, file, __dirname);
