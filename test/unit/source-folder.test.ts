// The CLI's local-folder source (stand-in until the sources import lands): text files in
// a stable order, dot-folders, dependency folders, binaries and big files skipped, test
// files by pattern, and clear typed errors for what it cannot read yet.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSourceFolder, SourceError } from '../../src/cli/source-folder.ts';

describe('readSourceFolder', () => {
  const root = mkdtempSync(join(tmpdir(), 'hc-src-'));
  for (const d of ['src', 'tests', '.git', 'node_modules/x']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'src/b.py'), 'b = 2\n');
  writeFileSync(join(root, 'src/a.py'), 'a = 1\n');
  writeFileSync(join(root, 'tests/test_a.py'), 'assert a == 1\n');
  writeFileSync(join(root, '.git/HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(root, 'node_modules/x/index.js'), 'module.exports = 1;\n');
  writeFileSync(join(root, 'logo.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
  writeFileSync(join(root, 'big.txt'), 'x'.repeat(600 * 1024));

  it('reads text files in path order, skipping what is not source', async () => {
    const files = await readSourceFolder(root, { testGlob: /^tests\// });
    expect(files.map((f) => f.path)).toEqual(['src/a.py', 'src/b.py', 'tests/test_a.py']);
    expect(files.map((f) => f.test)).toEqual([false, false, true]);
    expect(files[0].text).toBe('a = 1\n');
  });
  it('says what it cannot read yet, and what is missing', async () => {
    await expect(readSourceFolder('https://github.com/x/y.git')).rejects.toMatchObject({ code: 'UNSUPPORTED_SOURCE' });
    await expect(readSourceFolder(join(root, 'repo.tar.gz'))).rejects.toBeInstanceOf(SourceError);
    await expect(readSourceFolder(join(root, 'nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    mkdirSync(join(root, 'empty/.hidden'), { recursive: true });
    writeFileSync(join(root, 'empty/.hidden/x.py'), 'x = 1\n');
    await expect(readSourceFolder(join(root, 'empty'))).rejects.toMatchObject({ code: 'NO_FILES' });
  });
});
