/** The agent's version: from package.json in the source tree, or fixed by the single-file build. */
import { readFileSync } from 'node:fs';

/** Set by the single-file build (scripts/bundle.mjs); in the source tree, package.json says. */
declare const __HPA_VERSION__: string | undefined;

export const VERSION: string =
  typeof __HPA_VERSION__ === 'string'
    ? __HPA_VERSION__
    : (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
