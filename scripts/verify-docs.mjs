#!/usr/bin/env node
/**
 * Rewrites the checks tables of docs/verify.md from the check registry (src/verify/checks/),
 * between its <!-- checks:begin --> and <!-- checks:end --> markers. Run by `npm run docs`
 * after the build (it reads dist/).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withChecksTables } from '../dist/verify/checks/docs.js';

const file = fileURLToPath(new URL('../docs/verify.md', import.meta.url));
const before = readFileSync(file, 'utf8');
const after = withChecksTables(before);
if (after !== before) writeFileSync(file, after);
