/**
 * Handlebars templates from the package's templates/ folder. The folder is found relative to
 * this module, which works both from src/render/ (tsx) and dist/render/ (compiled): rootDir is
 * src and outDir dist, so both sit two levels below the package root. Templates are read once
 * and compiled on first use; rendering is deterministic (no helpers beyond the built-in ones, no
 * HTML escaping: the values are validated addresses and names).
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';

export const TEMPLATES_DIR = new URL('../../templates/', import.meta.url);

const hbs = Handlebars.create();
const compiled = new Map<string, Handlebars.TemplateDelegate>();
const partialsLoaded = new Set<string>();

function source(name: string): string {
  return readFileSync(new URL(name, TEMPLATES_DIR), 'utf8');
}

/** Registers `templates/<name>.hbs` as partial `<alias>` (once). */
export function usePartial(alias: string, name: string): void {
  if (partialsLoaded.has(alias)) return;
  hbs.registerPartial(alias, source(`${name}.hbs`));
  partialsLoaded.add(alias);
}

/** Renders `templates/<name>.hbs` with `data`. */
export function render(name: string, data: object): string {
  let template = compiled.get(name);
  if (!template) {
    template = hbs.compile(source(`${name}.hbs`), { noEscape: true, knownHelpersOnly: true });
    compiled.set(name, template);
  }
  return template(data);
}
