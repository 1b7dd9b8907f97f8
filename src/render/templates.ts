/**
 * Handlebars templates from the package's templates/ folder. The folder is found relative to
 * this module, which works both from src/render/ (tsx) and dist/render/ (compiled): rootDir is
 * src and outDir dist, so both sit two levels below the package root. Templates are read once
 * and compiled on first use, or taken precompiled from the single-file build (precompiled.ts);
 * rendering is deterministic (no helpers beyond the built-in ones, no HTML escaping: the values
 * are validated addresses and names).
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { PRECOMPILED } from './precompiled.js';

export const TEMPLATES_DIR = new URL('../../templates/', import.meta.url);
/** The options every template is compiled with, at run time or at build time. */
export const COMPILE_OPTIONS = { noEscape: true, knownHelpersOnly: true } as const;

const hbs = Handlebars.create();
const compiled = new Map<string, Handlebars.TemplateDelegate>();
const partialsLoaded = new Set<string>();

function template(file: string): Handlebars.TemplateDelegate {
  const spec = PRECOMPILED?.[file];
  return spec ? hbs.template(spec) : hbs.compile(readFileSync(new URL(file, TEMPLATES_DIR), 'utf8'), COMPILE_OPTIONS);
}

/** Registers `templates/<name>.hbs` as partial `<alias>` (once). */
export function usePartial(alias: string, name: string): void {
  if (partialsLoaded.has(alias)) return;
  hbs.registerPartial(alias, template(`${name}.hbs`));
  partialsLoaded.add(alias);
}

/** Renders `templates/<name>.hbs` with `data`. */
export function render(name: string, data: object): string {
  let t = compiled.get(name);
  if (!t) {
    t = template(`${name}.hbs`);
    compiled.set(name, t);
  }
  return t(data);
}
