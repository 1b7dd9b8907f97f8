/**
 * haproxy.cfg as sections. The agent owns `global`, the unnamed `defaults` and
 * `userlist controller`; every other section (the frontends and backends the Data Plane API adds
 * at run time, one pair per guest cluster) is carried over byte for byte. Pure.
 */

/** Keywords that open a section (haproxy's configuration manual, section 3 onwards). */
const SECTION_KEYWORDS = new Set([
  'global',
  'defaults',
  'frontend',
  'backend',
  'listen',
  'userlist',
  'peers',
  'resolvers',
  'mailers',
  'program',
  'http-errors',
  'ring',
  'cache',
  'fcgi-app',
  'crt-store',
  'log-forward',
  'traces',
  'dynamic-update',
]);

export interface Section {
  /** `global`, `defaults`, `frontend`, … */
  keyword: string;
  /** The name after the keyword, '' when none (`global`, an unnamed `defaults`). */
  name: string;
  /** The section's exact text, header line included, up to the next section header. */
  text: string;
}

export interface ParsedConfig {
  /** Lines before the first section (comments such as the Data Plane API's `# _version=N`). */
  preamble: string;
  sections: Section[];
}

/** A section header: a keyword at the start of a line (haproxy allows indentation; we do too). */
function header(line: string): { keyword: string; name: string } | undefined {
  const m = /^\s*([a-z-]+)(?:\s+(\S+))?/u.exec(line);
  if (!m || !SECTION_KEYWORDS.has(m[1]!)) return undefined;
  // `name` may be followed by `from <defaults>` or other words; only the first is the name.
  return { keyword: m[1]!, name: m[2] && !m[2].startsWith('#') ? m[2] : '' };
}

/** Splits a configuration into its preamble and sections; joining them gives the input back. */
export function parseSections(text: string): ParsedConfig {
  const lines = text.match(/[^\n]*\n|[^\n]+$/gu) ?? [];
  let preamble = '';
  const sections: Section[] = [];
  for (const line of lines) {
    const h = header(line);
    if (h) sections.push({ ...h, text: line });
    else if (sections.length) sections[sections.length - 1]!.text += line;
    else preamble += line;
  }
  return { preamble, sections };
}

/** Whether the agent owns this section. */
export function isManaged(s: Pick<Section, 'keyword' | 'name'>): boolean {
  return s.keyword === 'global' || (s.keyword === 'defaults' && s.name === '') || (s.keyword === 'userlist' && s.name === 'controller');
}

/** Lines that carry meaning: comments, blank lines and indentation dropped. */
export function meaningfulLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) =>
      l
        .replace(/(^|\s)#.*$/u, '')
        .trim()
        .replace(/\s+/gu, ' '),
    )
    .filter((l) => l.length > 0);
}

/** The Data Plane API's version line, kept at the top so its optimistic locking keeps working. */
const VERSION_LINE = /^# _version=\d+\s*$/mu;

/**
 * The new haproxy.cfg: the preamble's `# _version` line (when the Data Plane API wrote one), the
 * agent's managed sections, then every section the agent does not own, exactly as it was.
 * When the managed sections mean the same as what the file has (the API may have re-serialized
 * them), the existing text is returned unchanged, so a rerun writes nothing and reloads nothing.
 */
export function mergeConfig(existing: string | undefined, managed: string): string {
  if (existing === undefined || existing.trim() === '') return managed;
  const old = parseSections(existing);
  const oldManaged = old.sections.filter(isManaged);
  const sameMeaning = meaningfulLines(oldManaged.map((s) => s.text).join('')).join('\n') === meaningfulLines(managed).join('\n');
  if (sameMeaning) return existing;
  const version = VERSION_LINE.exec(old.preamble)?.[0];
  const kept = old.sections.filter((s) => !isManaged(s)).map((s) => s.text);
  let out = version ? `${version.trimEnd()}\n` : '';
  out += managed.endsWith('\n') ? managed : `${managed}\n`;
  for (const text of kept) {
    if (!out.endsWith('\n\n')) out += '\n';
    out += text;
  }
  return out;
}

/** The section-header test of `parseSections`, for a reader that walks the lines itself (the verifier's bind parser). */
export { header as sectionHeader };
