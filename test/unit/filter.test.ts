// Stage-1 filter over in-memory files: every planted case, determinism, caching of content
// facts (only changed files re-analysed), duplicates (test wins), language switches,
// explanations when nothing is accepted, progress and cancellation.
import { describe, expect, it } from 'vitest';
import { filterFiles, type FilterInput } from '../../src/data/filter/stage1.ts';
import { PLANTED_EXPECTED, PLANTED_INCLUDE, plantedBytes, pythonModule } from '../helpers/planted.ts';

const enc = new TextEncoder();
function inputs(source = 'repo'): FilterInput[] {
  return [...plantedBytes()].map(([path, bytes]) => ({ source, path, bytes }));
}

describe('stage-1 filter', () => {
  it('gives each planted file its decision with the reason and numbers', async () => {
    const { decisions, summary } = await filterFiles(inputs(), { include: [PLANTED_INCLUDE] });
    const byPath = new Map(decisions.map((d) => [d.path, d]));
    for (const [path, want] of Object.entries(PLANTED_EXPECTED)) {
      const d = byPath.get(path)!;
      expect({ path, reason: d.reason }).toEqual({ path, reason: want.reason });
      if (want.detail) expect(d.detail).toContain(want.detail);
      if (want.duplicateOf) expect(d.duplicateOf?.path).toBe(want.duplicateOf);
    }
    expect(byPath.get('src/near_copy.py')!.duplicateOf!.similarity).toBeGreaterThanOrEqual(0.85);
    expect(byPath.get('src/near_copy.py')!.duplicateOf!.similarity).toBeLessThan(1);
    expect(byPath.get('src/app.py')).toMatchObject({ language: 'Python', lines: 75, accepted: true });
    expect(byPath.get('scripts/release')!.language).toBe('Python');
    expect(byPath.get('data/table.py')!.detail).toMatch(/digits are 0\.\d\d of non-whitespace characters > 0\.3/);
    expect(summary.accepted).toBe(4);
    expect(summary.byReason.generated).toBe(4);
    expect(summary.byLanguage.Python.accepted).toBe(2);
    expect(summary.explanation).toBeNull();
  });

  it('is deterministic and re-analyses only changed files with a facts cache', async () => {
    const cache = new Map();
    const a = await filterFiles(inputs(), {}, { cache });
    expect(a.analysed).toBeGreaterThan(10);
    const changed = inputs().map((f) =>
      f.path === 'src/util.ts' ? { ...f, bytes: enc.encode('export const x = 1 + 2 + 3 + 4 + 5 + 6 + 7;\n') } : f,
    );
    const b = await filterFiles(changed, {}, { cache });
    expect(b.analysed).toBe(1);
    const c = await filterFiles(inputs(), {});
    expect(c.decisions).toEqual(a.decisions);
  });

  it('without the include glob the vendored file stays out; switching Markdown on accepts the README', async () => {
    const { decisions } = await filterFiles(inputs(), { languages: { Markdown: true } });
    expect(decisions.find((d) => d.path === 'vendor/keep/helper.js')!.reason).toBe('vendored');
    expect(decisions.find((d) => d.path === 'README.md')!.reason).toBe('accepted');
  });

  it('exclude globs and turning .gitignore off', async () => {
    const { decisions } = await filterFiles(inputs(), { exclude: ['*.ts'], useGitignore: false });
    expect(decisions.find((d) => d.path === 'src/util.ts')).toMatchObject({
      reason: 'excluded_by_mask',
      detail: 'matches your exclude glob "*.ts"',
    });
    expect(decisions.find((d) => d.path === 'out/report.py')!.reason).toBe('accepted');
  });

  it('a test-set file wins over the same file in training, across sources', async () => {
    const code = enc.encode(pythonModule('shared'));
    const { decisions } = await filterFiles([
      { source: 'a', path: 'x.py', bytes: code },
      { source: 'b', path: 'y.py', bytes: code, test: true },
    ]);
    expect(decisions[0]).toMatchObject({ reason: 'duplicate', duplicateOf: { source: 'b', path: 'y.py', similarity: 1 } });
    expect(decisions[1]).toMatchObject({ reason: 'accepted', test: true });
  });

  it("a duplicate's reason names the other file's source by the name it is given", async () => {
    const code = enc.encode(pythonModule('shared'));
    const files = [
      { source: 's1abc', path: 'x.py', bytes: code },
      { source: 's2def', path: 'y.py', bytes: code },
    ];
    const named = await filterFiles(files, {}, { sourceName: (id) => ({ s1abc: 'src.zip', s2def: 'copy.zip' })[id] ?? id });
    expect(named.decisions[1].detail).toBe('same content as x.py in src.zip');
    expect((await filterFiles(files)).decisions[1].detail).toBe('same content as x.py in s1abc'); // the CLI's sources are names
  });

  it('nearly identical but different modules are not duplicates', async () => {
    const { decisions } = await filterFiles([
      { source: 'a', path: 'x.py', bytes: enc.encode(pythonModule('alpha')) },
      { source: 'a', path: 'y.py', bytes: enc.encode(pythonModule('omega')) },
    ]);
    expect(decisions.map((d) => d.reason)).toEqual(['accepted', 'accepted']);
  });

  it('explains in one sentence why nothing is accepted', async () => {
    const md = [1, 2, 3].map((i) => ({ source: 's', path: `doc${i}.md`, bytes: enc.encode(`# Doc ${i}\n`) }));
    const { summary } = await filterFiles(md);
    expect(summary.accepted).toBe(0);
    expect(summary.explanation).toBe(
      'All 3 files were rejected, most of them (3) as language switched off: switch on Markdown under Languages.',
    );
    expect((await filterFiles([])).summary.explanation).toMatch(/no files yet/);
  });

  it('reports progress and stops when cancelled', async () => {
    const many: FilterInput[] = Array.from({ length: 3000 }, (_, i) => ({
      source: 's',
      path: `f${i}.py`,
      bytes: enc.encode(pythonModule(`m${i}`, 2)),
    }));
    const seen: string[] = [];
    const ctl = new AbortController();
    const run = filterFiles(
      many,
      {},
      {
        signal: ctl.signal,
        onProgress: (p) => {
          seen.push(p.phase);
          if (p.done > 500) ctl.abort();
        },
      },
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toContain('analysing');
  });
});
