/**
 * haproxy.cfg as sections. The agent owns `global`, the unnamed `defaults` and
 * `userlist controller`; every other section (the frontends and backends the Data Plane API adds
 * at run time, one pair per guest cluster) is carried over byte for byte. Pure.
 */

/** Keywords that open a section (haproxy's configuration manual, section 3 onwards). */
export const SECTION_KEYWORDS: ReadonlySet<string> = new Set([
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
  readonly preamble: string;
  readonly sections: readonly Readonly<Section>[];
}

/** A section header: a keyword at the start of a line (haproxy allows indentation; we do too). */
function header(line: string): { keyword: string; name: string } | undefined {
  const m = /^\s*([a-z-]+)(?:\s+(\S+))?/u.exec(line);
  if (!m || !SECTION_KEYWORDS.has(m[1]!)) return undefined;
  // `name` may be followed by `from <defaults>` or other words; only the first is the name.
  return { keyword: m[1]!, name: m[2] && !m[2].startsWith('#') ? m[2] : '' };
}

/**
 * Splits a configuration into its preamble and sections; joining them gives the input back.
 * One scan for the lines that may open a section ({@link LATER_START}), and each section's text
 * is one slice of the input: a haproxy.cfg with 10,000 API frontend/backend pairs (13 MB, 200,000
 * lines) splits in milliseconds, where joining it line by line took most of a second. The lines
 * it takes for headers are exactly those {@link header} accepts.
 */
export function parseSections(text: string): ParsedConfig {
  // One plan splits the same file twice (the userlist's hash, then the merge): the last split is
  // reused, as it is (read-only: no copy of 20,000 sections for each caller).
  if (last?.text !== text) last = { text, parsed: split(text) };
  return last.parsed;
}

let last: { text: string; parsed: ParsedConfig } | undefined;

/**
 * The lines that may open a section: white space but a newline, then a section keyword not followed
 * by `[a-z-]` (what {@link header} reads as the keyword). `LATER_START` finds them after a newline
 * (the match starts at the newline), `FIRST_START` on the first line. The regular expression
 * engine scans the text natively: the agent runs once per boot, so a loop over 200,000 lines never
 * gets past V8's interpreter and took 80–200 ms; the scan takes 15–25.
 */
const KEYWORD_AT_START = `[^\\S\\n]*(?:${[...SECTION_KEYWORDS].join('|')})(?![a-z-])`;
const FIRST_START = new RegExp(`^${KEYWORD_AT_START}`, 'u');
const LATER_START = new RegExp(`\\n${KEYWORD_AT_START}`, 'gu');

function split(text: string): ParsedConfig {
  const sections: Section[] = [];
  // Where the last section found starts (its text ends where the next one starts), and the preamble's end.
  let from = text.length;
  let preambleEnd = text.length;
  const take = (at: number) => {
    const nl = text.indexOf('\n', at);
    const h = header(text.slice(at, nl < 0 ? text.length : nl + 1));
    if (!h) return;
    const prev = sections.at(-1);
    if (prev) prev.text = text.slice(from, at);
    sections.push({ keyword: h.keyword, name: h.name, text: '' });
    if (!prev) preambleEnd = at;
    from = at;
  };
  if (FIRST_START.test(text)) take(0);
  LATER_START.lastIndex = 0;
  for (let m = LATER_START.exec(text); m; m = LATER_START.exec(text)) take(m.index + 1);
  const last = sections.at(-1);
  if (last) last.text = text.slice(from);
  return { preamble: text.slice(0, preambleEnd), sections };
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
  // Pieces joined once at the end: asking a string grown by `+=` for its end flattens it, which
  // made this quadratic (minutes for 10,000 API pairs); the last two characters are tracked instead.
  const out = [version ? `${version.trimEnd()}\n` : '', managed.endsWith('\n') ? managed : `${managed}\n`];
  let tail = out.join('').slice(-2);
  for (const text of kept) {
    if (tail !== '\n\n') {
      out.push('\n');
      tail = `${tail}\n`.slice(-2);
    }
    out.push(text);
    tail = `${tail}${text.slice(-2)}`.slice(-2);
  }
  return out.join('');
}

/** The section-header test of `parseSections`, for a reader that walks the lines itself (the verifier's bind parser). */
export { header as sectionHeader };
