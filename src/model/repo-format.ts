// How files of one repository are laid out together, per model family: with the family's
// own tokens where the tokenizer has them (Qwen2.5-Coder `<|repo_name|>name\n<|file_sep|>path\n
// content`, StarCoder2 `<repo_name>name<file_sep>path\ncontent`), else a path comment above each
// file. Training (repository sequences) and serving (repository context) share this layout, so
// a fine-tuned model sees at inference the format it was trained on.
import type { FimTokens } from './tokenizer.ts';

export type RepoFormat =
  | {
      kind: 'tokens';
      repoName: number;
      fileSep: number;
      /** Text after the repository name (Qwen puts a newline there, StarCoder2 nothing). */
      nameEnd: string;
    }
  | { kind: 'comments' };

/** The family's repository format: its tokens when the tokenizer has both, else path comments. */
export function repoFormatOf(fim: FimTokens | undefined): RepoFormat {
  if (fim?.repoName !== undefined && fim.fileSep !== undefined)
    return { kind: 'tokens', repoName: fim.repoName, fileSep: fim.fileSep, nameEnd: fim.family === 'qwen' ? '\n' : '' };
  return { kind: 'comments' };
}

const HASH = /\.(py|pyi|rb|sh|bash|zsh|pl|pm|r|ya?ml|toml|ex|exs|jl|nim|ps1|cmake|coffee|tf|conf|mk|dockerfile|gd)$/i;
const DASHES = /\.(sql|lua|hs|elm|ada|adb|ads)$/i;
const MARKUP = /\.(html?|xml|md|markdown|vue|svelte|svg|xaml)$/i;
const SEMI = /\.(clj|cljs|lisp|el|scm|rkt|ini|asm|s)$/i;
const PERCENT = /\.(tex|erl|hrl)$/i;

/** One line naming `path` as a comment in its language (`// src/a.ts`, `# a.py`, `<!-- a.md -->`). */
export function pathComment(path: string): string {
  const base = path.split('/').pop() ?? path;
  if (HASH.test(path) || /^(Makefile|Dockerfile|Gemfile|Rakefile)$/.test(base)) return `# ${path}\n`;
  if (DASHES.test(path)) return `-- ${path}\n`;
  if (MARKUP.test(path)) return `<!-- ${path} -->\n`;
  if (/\.css$/i.test(path)) return `/* ${path} */\n`;
  if (SEMI.test(path)) return `; ${path}\n`;
  if (PERCENT.test(path)) return `% ${path}\n`;
  return `// ${path}\n`;
}

/** A file's text as it goes into a repository layout: ending in exactly one newline or more. */
export function withFinalNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * A short repository name from a source's name: `owner/name` of a git URL, else the archive's or
 * folder's name without its extension.
 */
export function repoLabel(source: string): string {
  const clean = source.replace(/[?#].*$/, '').replace(/\/+$/, '');
  if (/^[a-z]+:\/\//i.test(clean)) {
    const parts = clean
      .replace(/^[a-z]+:\/\/[^/]+\/?/i, '')
      .split('/')
      .filter(Boolean);
    return (parts.slice(-2).join('/') || clean).replace(/\.git$/, '');
  }
  const base = clean.split(/[\\/]/).pop() || clean;
  return base.replace(/\.(zip|tar|tar\.gz|tgz|tar\.bz2|tbz2?)$/i, '');
}
