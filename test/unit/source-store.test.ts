// The IndexedDB store and the browser-side training reader, on fake-indexeddb (the real
// IndexedDB in Chromium is exercised by test/e2e/sources.test.ts): changes on re-import,
// test marks, facts reuse, and acceptedTrainingFiles giving exactly the accepted files.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { SourceStore } from '../../src/data/store/source-store.ts';
import { filterFiles } from '../../src/data/filter/stage1.ts';
import { withDefaults } from '../../src/data/filter/settings.ts';
import { acceptedTrainingFiles } from '../../src/data/training-files.ts';
import { PLANTED_INCLUDE, plantedBytes } from '../helpers/planted.ts';

const enc = new TextEncoder();

describe('source store', () => {
  it('stores a source, reports what a re-import changed, and feeds training the accepted files', async () => {
    const store = await SourceStore.open('t-store-1');
    const files = [...plantedBytes()].map(([path, bytes]) => ({ path, bytes }));
    const base = { id: 'a', kind: 'git' as const, name: 'https://example.test/r.git', addedAt: 1, updatedAt: 1 };
    const first = await store.putSource(base, files);
    expect(first.changes).toEqual({ added: files.length, changed: 0, removed: 0, unchanged: 0 });
    expect(first.record.fileCount).toBe(files.length);

    const next = files
      .filter((f) => f.path !== 'README.md')
      .map((f) => (f.path === 'src/util.ts' ? { ...f, bytes: enc.encode('export const z = 3;\n') } : f));
    next.push({ path: 'src/new.py', bytes: enc.encode('def new():\n    return 1\n') });
    const second = await store.putSource({ ...base, updatedAt: 2 }, next);
    expect(second.changes).toEqual({ added: 1, changed: 1, removed: 1, unchanged: files.length - 2 });

    expect(await store.setTest('a', ['src/new.py'], true)).toBe(1);
    const stored = await store.allFiles();
    expect(stored.find((f) => f.path === 'src/new.py')!.test).toBe(true);

    const settings = withDefaults({ include: [PLANTED_INCLUDE] });
    const cache = await store.facts(stored.map((f) => f.sha));
    const r = await filterFiles(
      stored.map((f) => ({ source: f.source, path: f.path, bytes: f.bytes, test: f.test, sha: f.sha })),
      settings,
      { cache },
    );
    await store.saveRun(r.decisions, [...cache.values()], { summary: r.summary, settings, at: 3, analysed: r.analysed, seen: { a: 2 } });
    // A second run reuses every stored fact.
    const again = await filterFiles(
      stored.map((f) => ({ source: f.source, path: f.path, bytes: f.bytes, test: f.test, sha: f.sha })),
      settings,
      { cache: await store.facts(stored.map((f) => f.sha)) },
    );
    expect(again.analysed).toBe(0);
    expect(again.decisions).toEqual(r.decisions);
    store.close();

    const training = [];
    for await (const f of acceptedTrainingFiles('t-store-1')) training.push(f);
    const want = r.decisions
      .filter((d) => d.accepted)
      .map((d) => d.path)
      .sort();
    expect(training.map((f) => f.path).sort()).toEqual(want);
    expect(training.find((f) => f.path === 'src/new.py')).toEqual({
      path: 'src/new.py',
      source: 'https://example.test/r.git',
      text: 'def new():\n    return 1\n',
      test: true,
    });
  });

  it('removing a source removes its files and decisions, not the others', async () => {
    const store = await SourceStore.open('t-store-2');
    await store.putSource({ id: 'a', kind: 'files', name: 'a', addedAt: 1, updatedAt: 1 }, [
      { path: 'x.py', bytes: enc.encode('x = 1\n') },
    ]);
    await store.putSource({ id: 'b', kind: 'files', name: 'b', addedAt: 2, updatedAt: 2 }, [
      { path: 'y.py', bytes: enc.encode('y = 1\n') },
    ]);
    await store.removeSource('a');
    expect((await store.sources()).map((s) => s.id)).toEqual(['b']);
    expect((await store.allFiles()).map((f) => f.path)).toEqual(['y.py']);
    store.close();
  });
});
