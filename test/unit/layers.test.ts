// The dependency rules of DESIGN.md ("Layers and folders"), checked on every relative import
// in src/: a module may import only from its own folder and the folders its layer allows.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');
const SHARED = ['progress', 'random', 'errors']; // src/*.ts used by every layer

/** What each top-level folder of src/ may import, besides itself and SHARED. */
const ALLOWED: Record<string, string[]> = {
  ui: ['workers', 'serve', 'train', 'data', 'model', 'gpu'],
  workers: ['serve', 'train', 'data', 'model', 'gpu'],
  train: ['serve', 'data', 'model', 'gpu'],
  serve: ['model', 'gpu'],
  data: ['model'],
  gpu: ['model'],
  model: [],
  bridge: ['serve', 'train', 'data', 'model', 'gpu'],
  cli: ['bridge', 'serve', 'train', 'data', 'model', 'gpu'],
};

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.(ts|svelte)$/.test(e.name)) yield p;
  }
}

const layerOf = (file: string) => relative(SRC, file).split('/')[0].replace(/\.ts$/, '');

/** The imports of one file that break the rules, as readable lines. */
function brokenImports(file: string, text: string): string[] {
  const from = layerOf(file);
  const broken: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const to = layerOf(resolve(dirname(file), m[1]));
    if (to === from || SHARED.includes(to)) continue;
    if (!ALLOWED[from]?.includes(to)) broken.push(`${relative(SRC, file)} imports ${m[1]} (${from} → ${to})`);
  }
  return broken;
}

describe('layers', () => {
  it('every import in src/ follows the dependency rules', () => {
    const files = [...sources(SRC)];
    expect(files.length).toBeGreaterThan(100); // the scan found the sources at all
    expect(files.flatMap((f) => brokenImports(f, readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('catches a Node program importing a worker, and the engine importing the UI', () => {
    expect(brokenImports(join(SRC, 'bridge/x.ts'), "import { a } from '../workers/engine-api.ts';")).toHaveLength(1);
    expect(brokenImports(join(SRC, 'cli/commands/x.ts'), "import type { A } from '../../workers/jobs.ts';")).toHaveLength(1);
    expect(brokenImports(join(SRC, 'gpu/x.ts'), "const m = await import('../ui/shell/workers.ts');")).toHaveLength(1);
    expect(brokenImports(join(SRC, 'serve/x.ts'), "import { b } from '../model/config.ts';")).toEqual([]);
  });
});
