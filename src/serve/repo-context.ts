// Repository context for completions: when an editor sends no context of its own, snippets of
// the user's sources that share identifiers with the code at the cursor (the name being typed
// weighs most) are added before the prompt, within a token budget, in the family's layout
// (src/serve/fim.ts renders them: `<|file_sep|>path` for Qwen, a path comment otherwise).
// The search itself is src/data/repo-index.ts, handed in by whoever opens the service.
import type { ModelTokenizer } from '../model/tokenizer.ts';
import { extraIds, parseFimPrompt, type ExtraContext } from './fim.ts';
import type { CompletionRequest } from './types.ts';

/** What a snippet search answers (src/data/repo-index.ts's RepoIndex is one). */
export interface SnippetSearch {
  search(
    query: string,
    limit: number,
    opts?: { exclude?: string; weights?: Record<string, number>; paths?: string[] },
  ): Array<{ source: string; path: string; line: number; text: string; score: number }>;
  readonly files: number;
}

export interface RepoContextOptions {
  /** Tokens the added snippets may take (they never take more than half the prompt). */
  budget: number;
  /** Snippets looked at, best first. */
  candidates: number;
  /** Put the file the name at the cursor is imported from first (default true). */
  followImports?: boolean;
}

export const DEFAULT_REPO_CONTEXT: RepoContextOptions = { budget: 512, candidates: 8 };

/** What was added to one request (the Use page shows the last one). */
export interface AddedContext {
  snippets: Array<{ source: string; path: string; line: number; lines: number; tokens: number }>;
  tokens: number;
  /** The identifier at the cursor, which weighed most in the search. */
  cursorName?: string;
  /** Why nothing was looked for (the request's own context keeps priority). */
  skipped?: string;
}

/** Lines before and after the cursor that make the query. */
const QUERY_LINES_BEFORE = 15;
const QUERY_LINES_AFTER = 5;

/** The identifier being typed or called at the cursor: the last one in the prefix. */
export function cursorIdentifier(prefix: string): string | undefined {
  const tail = prefix.slice(-200);
  const all = [...tail.matchAll(/[A-Za-z_$][\w$]*/g)];
  return all.at(-1)?.[0];
}

/**
 * A relative import (`../errors.ts`) resolved against the file being edited, as an anchored path
 * (`/…/src/errors.ts`); without the file's name, and for a module name, the spec as it is.
 */
function anchor(spec: string, filename: string | undefined): string {
  if (!filename || !/^\.\.?\//.test(spec)) return spec.replace(/^(\.\.?\/)+/, '');
  const dir = filename.replace(/\\/g, '/').replace(/\/?[^/]*$/, '');
  return `/${dir}/${spec}`;
}

/** The modules the code in `prefix` imports `name` from (JS/TS `import … from`, `require`, Python `from … import`). */
export function importedFrom(prefix: string, name: string): string[] {
  const head = prefix.slice(0, 50_000);
  const has = (text: string) => new RegExp(`(^|[^\\w$])${name.replace(/\$/g, '\\$')}($|[^\\w$])`).test(text);
  const out: string[] = [];
  for (const m of head.matchAll(/\b(?:import|export)\b([^;'"]*?)\bfrom\s*["']([^"']+)["']/g)) if (has(m[1])) out.push(m[2]);
  for (const m of head.matchAll(/\b(?:const|let|var)\s+([^=;]+?)=\s*require\(\s*["']([^"']+)["']\s*\)/g)) if (has(m[1])) out.push(m[2]);
  for (const m of head.matchAll(/^[ \t]*from\s+(\.*[\w.]*)\s+import\s+([^\n]+)/gm))
    if (has(m[2])) out.push(m[1].replace(/^\.+/, '').replaceAll('.', '/'));
  return out.filter(Boolean);
}

/**
 * Snippets for a request's prefix and suffix: best matches first, skipping the file being edited
 * and text the prompt already holds, as many as fit `budget` tokens in the family's layout.
 */
export function repoContext(
  search: SnippetSearch,
  tok: ModelTokenizer,
  at: { prefix: string; suffix: string; filename?: string },
  opts: RepoContextOptions = DEFAULT_REPO_CONTEXT,
): { extra: ExtraContext[]; added: AddedContext } {
  const before = at.prefix.split('\n').slice(-QUERY_LINES_BEFORE).join('\n');
  const after = at.suffix.split('\n').slice(0, QUERY_LINES_AFTER).join('\n');
  const currentLine = at.prefix.slice(at.prefix.lastIndexOf('\n') + 1);
  const cursorName = cursorIdentifier(at.prefix);
  const weights: Record<string, number> = {};
  for (const m of currentLine.matchAll(/[A-Za-z_$][\w$]*/g)) weights[m[0]] = 1;
  if (cursorName) weights[cursorName] = 3;
  const hits = search.search(`${before}\n${after}`, opts.candidates, {
    exclude: at.filename,
    weights,
    paths: cursorName && opts.followImports !== false ? importedFrom(at.prefix, cursorName).map((spec) => anchor(spec, at.filename)) : [],
  });
  const extra: ExtraContext[] = [];
  const added: AddedContext = { snippets: [], tokens: 0, cursorName };
  for (const h of hits) {
    if (at.prefix.includes(h.text.trim()) || at.suffix.includes(h.text.trim())) continue; // already in the prompt
    const e = { filename: h.path, text: h.text };
    const tokens = extraIds(tok, e).length;
    if (added.tokens + tokens > opts.budget) continue;
    extra.push(e);
    added.tokens += tokens;
    added.snippets.push({ source: h.source, path: h.path, line: h.line, lines: h.text.split('\n').length, tokens });
  }
  return { extra, added };
}

/**
 * The request with repository context added, when it carries none of its own: the editor's
 * extras (llama.cpp's input_extra, Tabby's snippets) or a raw FIM prompt with a preamble keep
 * priority and are left as they are. Plain (non-FIM) prompts get none.
 */
export function withRepoContext<R extends CompletionRequest>(
  req: R,
  search: SnippetSearch,
  tok: ModelTokenizer,
  opts: RepoContextOptions = DEFAULT_REPO_CONTEXT,
): { req: R; added: AddedContext } {
  const skip = (why: string) => ({ req, added: { snippets: [], tokens: 0, skipped: why } });
  if (!tok.fim) return skip('the model has no fill-in-the-middle tokens');
  if (req.extra?.length) return skip("the editor sent its own context (input_extra or Tabby's snippets)");
  let at: { prefix: string; suffix: string } | undefined;
  if (req.prefix !== undefined || req.suffix !== undefined) at = { prefix: req.prefix ?? '', suffix: req.suffix ?? '' };
  else if (req.prompt !== undefined) {
    const parsed = parseFimPrompt(req.prompt);
    if (parsed && !parsed.preamble.trim()) at = { prefix: parsed.prefix, suffix: parsed.suffix };
  }
  if (!at)
    return skip(
      req.prompt !== undefined && parseFimPrompt(req.prompt) ? 'the prompt carries its own context' : 'not a fill-in-the-middle request',
    );
  const { extra, added } = repoContext(search, tok, { ...at, filename: req.filename }, opts);
  if (!extra.length) return { req, added };
  const { prompt: _prompt, ...rest } = req;
  return { req: { ...rest, ...at, extra, extraBudget: opts.budget } as R, added };
}
