// Language detection by file name, extension and shebang, from the table in languages.json.
import table from './languages.json';

export type LanguageType = 'programming' | 'markup' | 'data' | 'prose';

export interface Language {
  name: string;
  type: LanguageType;
  /** Trained on unless the user switches it off (code and markup yes; data and prose no). */
  defaultOn: boolean;
  extensions: string[];
  filenames: string[];
  interpreters: string[];
}

export const LANGUAGES: readonly Language[] = (table.languages as Language[]).map((l) => ({ ...l }));

const byName = new Map(LANGUAGES.map((l) => [l.name, l]));
const byFilename = new Map<string, Language>();
const byExtension = new Map<string, Language>();
const byInterpreter = new Map<string, Language>();
for (const l of LANGUAGES) {
  for (const f of l.filenames) byFilename.set(f, l);
  // Case-sensitive first (.R vs .r both R, .S assembly); lower-case as a fallback.
  for (const e of l.extensions) byExtension.set(e, l);
  for (const i of l.interpreters) byInterpreter.set(i, l);
}

export function languageByName(name: string): Language | undefined {
  return byName.get(name);
}

/** The interpreter named by a `#!` line: `#!/usr/bin/env python3` → python3. */
export function shebangInterpreter(firstLine: string): string | null {
  const m = /^#!\s*(\S+)(?:\s+(?:-\S+\s+)*(\S+))?/.exec(firstLine);
  if (!m) return null;
  const prog = m[1].split('/').pop()!;
  const name = prog === 'env' ? (m[2] ?? '') : prog;
  return name || null;
}

/** The language of a file, or null when none is recognised (Refact's "not code"). */
export function detectLanguage(path: string, interpreter: string | null): Language | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const named = byFilename.get(base);
  if (named) return named;
  // Longest extension first: ".d.ts" is not a thing here, but ".tar.gz"-style names are.
  const dot = base.indexOf('.', 1);
  if (dot > 0) {
    for (let i = dot; i >= 0 && i < base.length; i = base.indexOf('.', i + 1)) {
      const ext = base.slice(i);
      const l = byExtension.get(ext) ?? byExtension.get(ext.toLowerCase());
      if (l) return l;
    }
  }
  if (interpreter) return byInterpreter.get(interpreter) ?? byInterpreter.get(interpreter.replace(/[\d.]+$/, '')) ?? null;
  return null;
}

/** Which languages are on: the table's defaults with the user's switches on top. */
export function languageEnabled(language: Language, switches: Record<string, boolean>): boolean {
  return switches[language.name] ?? language.defaultOn;
}
