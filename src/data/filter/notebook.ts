// Jupyter notebooks as code (the HF personal-copilot recipe): the cells in order, markdown
// cells as line comments in the kernel's language, outputs dropped. What stage 1 judges and
// what training reads is this script, never the notebook's JSON.
import { decodeText } from './content.ts';
import { LANGUAGES, languageByName, type Language } from './languages.ts';

export interface NotebookScript {
  text: string;
  /** The kernel's language as the notebook names it ("python", "R", "julia"). */
  kernel: string;
  /** That language in Homecoder's table, or null when the table has no such language. */
  language: Language | null;
  code: number;
  markdown: number;
}

/** A notebook that is not valid JSON or not in nbformat's shape. */
export class NotebookFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotebookFormatError';
  }
}

export const isNotebook = (path: string): boolean => /\.ipynb$/i.test(path);

/** Line comment of each language a kernel is likely to run ("#" for the rest). */
const COMMENT: Record<string, string> = {
  JavaScript: '//',
  TypeScript: '//',
  Java: '//',
  Kotlin: '//',
  Scala: '//',
  Groovy: '//',
  C: '//',
  'C++': '//',
  'C#': '//',
  'F#': '//',
  Go: '//',
  Rust: '//',
  Swift: '//',
  Dart: '//',
  Zig: '//',
  D: '//',
  CUDA: '//',
  Haskell: '--',
  Lua: '--',
  SQL: '--',
  Ada: '--',
  Elm: '--',
  PureScript: '--',
  Clojure: ';;',
  'Common Lisp': ';;',
  Scheme: ';;',
  'Emacs Lisp': ';;',
  Erlang: '%',
  Fortran: '!',
  OCaml: '(*',
};

/** Kernel language names that differ from the table's names. */
const KERNEL_ALIASES: Record<string, string> = {
  python3: 'Python',
  python2: 'Python',
  ipython: 'Python',
  'c#': 'C#',
  csharp: 'C#',
  'f#': 'F#',
  fsharp: 'F#',
  cpp: 'C++',
  'c++11': 'C++',
  'c++14': 'C++',
  'c++17': 'C++',
  'c++20': 'C++',
  bash: 'Shell',
  sh: 'Shell',
  zsh: 'Shell',
  powershell: 'PowerShell',
  js: 'JavaScript',
  ts: 'TypeScript',
  octave: 'MATLAB',
  matlab: 'MATLAB',
};

const byLowerName = new Map(LANGUAGES.map((l) => [l.name.toLowerCase(), l]));

/** The table's language for a kernel language name or, failing that, its file extension. */
export function kernelLanguage(name: string, fileExtension?: string): Language | null {
  const lower = name.trim().toLowerCase();
  const alias = KERNEL_ALIASES[lower];
  const byName = (alias && languageByName(alias)) || byLowerName.get(lower);
  if (byName) return byName;
  if (fileExtension) return LANGUAGES.find((l) => l.extensions.includes(fileExtension)) ?? null;
  return null;
}

function comment(language: Language | null, lines: string[]): string {
  const c = (language && COMMENT[language.name]) ?? '#';
  // OCaml has no line comment: the whole cell becomes one block comment.
  if (c === '(*') return `(* ${lines.join('\n   ')} *)`;
  return lines.map((l) => (l.trim() ? `${c} ${l}` : c)).join('\n');
}

const cellText = (v: unknown, what: string): string => {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join('');
  throw new NotebookFormatError(`a cell's ${what} is neither text nor a list of lines`);
};

interface Cell {
  cell_type?: unknown;
  source?: unknown;
  input?: unknown;
}

/**
 * The notebook's cells as one script in its kernel's language; throws NotebookFormatError
 * when the bytes are not a notebook (bad JSON, no cells, a cell without text).
 */
export function notebookToScript(bytes: Uint8Array): NotebookScript {
  let nb: { cells?: unknown; worksheets?: Array<{ cells?: unknown }>; metadata?: Record<string, unknown>; nbformat?: unknown };
  try {
    nb = JSON.parse(decodeText(bytes));
  } catch (err) {
    throw new NotebookFormatError(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!nb || typeof nb !== 'object' || Array.isArray(nb)) throw new NotebookFormatError('not a JSON object');
  // nbformat 4 keeps cells at the top; nbformat 3 inside worksheets, code in `input`.
  const cells = nb.cells ?? nb.worksheets?.[0]?.cells;
  if (!Array.isArray(cells)) throw new NotebookFormatError('no "cells" list (nbformat 3 or 4 expected)');
  const meta = (nb.metadata ?? {}) as { kernelspec?: { language?: unknown }; language_info?: { name?: unknown; file_extension?: unknown } };
  const kernelName = meta.kernelspec?.language ?? meta.language_info?.name;
  const kernel = typeof kernelName === 'string' && kernelName.trim() ? kernelName.trim() : 'python';
  const ext = typeof meta.language_info?.file_extension === 'string' ? meta.language_info.file_extension : undefined;
  const language = kernelLanguage(kernel, ext);
  const parts: string[] = [];
  let code = 0;
  let markdown = 0;
  for (const c of cells as Cell[]) {
    if (!c || typeof c !== 'object') throw new NotebookFormatError('a cell is not a JSON object');
    if (c.cell_type === 'code') {
      const src = cellText(c.source ?? c.input ?? '', 'source').replace(/\s+$/, '');
      if (src) parts.push(src);
      code++;
    } else if (c.cell_type === 'markdown' || c.cell_type === 'heading') {
      const src = cellText(c.source ?? '', 'source').replace(/\s+$/, '');
      if (src) parts.push(comment(language, src.split('\n')));
      markdown++;
    }
    // raw cells are neither code nor prose for the kernel: left out, as outputs are.
  }
  return { text: parts.length ? `${parts.join('\n\n')}\n` : '', kernel, language, code, markdown };
}

/** A stored file's text as training reads it: a notebook's script, any other file's UTF-8. */
export function fileText(path: string, bytes: Uint8Array): string {
  if (isNotebook(path)) {
    try {
      return notebookToScript(bytes).text;
    } catch {
      // stage 1 rejects broken notebooks; a caller that reads one anyway sees its JSON.
    }
  }
  return decodeText(bytes);
}
