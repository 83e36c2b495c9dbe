// Jupyter notebooks through the real filter: a real IRkernel notebook (markdown, code,
// stream/HTML/PNG outputs, a raw cell) becomes the R script of its cells, judged and trained
// as R; a broken notebook is rejected as linguist_error; the CLI shows both.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notebookToScript } from '../../src/data/filter/notebook.ts';
import { filterToTrainingFiles } from '../../src/data/training-files.ts';
import { runCliAsync } from '../helpers/cli.ts';
import type { FileDecision } from '../../src/data/types.ts';

const FIX = 'test/fixtures/notebooks';
const rNotebook = readFileSync(join(FIX, 'penguins-r.ipynb'));
const expectedR = readFileSync(join(FIX, 'penguins-r.expected.R'), 'utf8');
const broken = readFileSync(join(FIX, 'broken.ipynb'));

function notebook(cells: Array<{ cell_type: string; source: string }>, metadata: object = {}): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ cells: cells.map((c) => ({ ...c, metadata: {}, outputs: [] })), metadata, nbformat: 4 }),
  );
}

describe('notebooks', () => {
  it('an R notebook becomes its cells in order, markdown as # comments, outputs and raw cells dropped', () => {
    const s = notebookToScript(rNotebook);
    expect(s.text).toBe(expectedR);
    expect(s).toMatchObject({ kernel: 'R', code: 3, markdown: 2 });
    expect(s.language?.name).toBe('R');
    expect(s.text).not.toContain('iVBOR'); // the PNG output
    expect(s.text).not.toContain('Loading required package'); // the stream output
  });

  it("markdown becomes the kernel language's comments (Julia #, Scala //, Haskell --)", () => {
    const cells = [
      { cell_type: 'markdown', source: 'Sum of squares\n\nfor n' },
      { cell_type: 'code', source: 'f(n) = sum(abs2, 1:n)' },
    ];
    expect(notebookToScript(notebook(cells, { kernelspec: { language: 'julia', name: 'julia-1.10' } })).text).toBe(
      '# Sum of squares\n#\n# for n\n\nf(n) = sum(abs2, 1:n)\n',
    );
    const scala = notebookToScript(notebook(cells, { language_info: { name: 'scala' } }));
    expect(scala.language?.name).toBe('Scala');
    expect(scala.text.startsWith('// Sum of squares\n//\n// for n\n')).toBe(true);
    expect(notebookToScript(notebook(cells, { kernelspec: { language: 'haskell' } })).text.startsWith('-- Sum')).toBe(true);
    // No kernel named: Jupyter's default, Python.
    expect(notebookToScript(notebook(cells)).language?.name).toBe('Python');
  });

  it('stage 1 judges the script: accepted as R with the cells counted, trained on as the script', async () => {
    const r = await filterToTrainingFiles([
      { source: 'nb', path: 'analysis/penguins.ipynb', bytes: rNotebook },
      { source: 'nb', path: 'analysis/broken.ipynb', bytes: broken },
      { source: 'nb', path: 'copy.ipynb', bytes: notebook([{ cell_type: 'code', source: expectedR }], { kernelspec: { language: 'R' } }) },
    ]);
    const by = Object.fromEntries(r.decisions.map((d) => [d.path, d]));
    expect(by['analysis/penguins.ipynb']).toMatchObject({
      accepted: true,
      language: 'R',
      lines: expectedR.split('\n').length - 1,
      bytes: new TextEncoder().encode(expectedR).length,
      detail: 'notebook: 3 code and 2 markdown cells as R, outputs dropped',
    });
    expect(by['analysis/broken.ipynb']).toMatchObject({ accepted: false, reason: 'linguist_error' });
    expect(by['analysis/broken.ipynb'].detail).toMatch(/^not a readable notebook: not valid JSON/);
    // Judged on the script: a notebook whose code is the same script is its duplicate.
    expect(by['copy.ipynb']).toMatchObject({ accepted: false, reason: 'duplicate' });
    expect(r.accepted).toEqual([{ path: 'analysis/penguins.ipynb', source: 'nb', text: expectedR, test: false }]);
    // Switching "Jupyter Notebook" off still leaves notebooks out, whatever their kernel.
    const off = await filterToTrainingFiles([{ source: 'nb', path: 'a.ipynb', bytes: rNotebook }], {
      languages: { 'Jupyter Notebook': false },
    });
    expect(off.decisions[0]).toMatchObject({ reason: 'type_off', detail: 'Jupyter Notebook is switched off', language: 'R' });
  });

  it('homecoder filter over a folder shows the notebook as R and the broken one as linguist_error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hc-nb-'));
    try {
      copyFileSync(join(FIX, 'penguins-r.ipynb'), join(dir, 'penguins.ipynb'));
      copyFileSync(join(FIX, 'broken.ipynb'), join(dir, 'broken.ipynb'));
      writeFileSync(join(dir, 'empty.ipynb'), '{"metadata": {}}');
      const r = await runCliAsync('filter', '--source', dir, '--json');
      expect(r.status).toBe(0);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const by = Object.fromEntries((lines.slice(0, -1) as FileDecision[]).map((d) => [d.path, d]));
      expect(by['penguins.ipynb']).toMatchObject({ accepted: true, language: 'R' });
      expect(by['broken.ipynb']).toMatchObject({ reason: 'linguist_error' });
      expect(by['empty.ipynb']).toMatchObject({ reason: 'linguist_error', detail: expect.stringContaining('no "cells" list') });
      expect(lines.at(-1).summary.notebooks).toEqual({ total: 3, accepted: 1 });
      const text = await runCliAsync('filter', '--source', dir);
      expect(text.stdout).toMatch(/REJECT {3}broken\.ipynb — could not be analysed: not a readable notebook: not valid JSON/);
      expect(text.stdout).toContain('Notebooks: 1 of 3 accepted, read as the code of their cells.');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
