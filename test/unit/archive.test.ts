// Archives: each kind imports the same tree; a zip bomb, a traversal entry and a corrupt
// archive are refused with a typed error naming the archive; links are skipped and listed.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packTar } from 'modern-tar';
import { readArchive } from '../../src/data/sources/archive.ts';
import { plantedBytes } from '../helpers/planted.ts';
import { archivesOf, corruptTgz, traversalTar, traversalZip, zipBomb } from '../helpers/archives.ts';

const tree = plantedBytes();
const sorted = (files: Array<{ path: string; bytes: Uint8Array }>) =>
  files.map((f) => [f.path, Buffer.from(f.bytes).toString('base64')] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));

describe('archives', () => {
  it('each kind imports the same tree, byte for byte', async () => {
    const want = sorted([...tree].map(([path, bytes]) => ({ path, bytes })));
    for (const [name, bytes] of Object.entries(await archivesOf(tree))) {
      const got = await readArchive(name, bytes);
      expect({ name, files: sorted(got.files) }).toEqual({ name, files: want });
      expect(got.skipped).toEqual([]);
    }
  });

  it('reads archives made by the system tar, with links skipped and listed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hc-archive-'));
    try {
      mkdirSync(join(dir, 'proj/src'), { recursive: true });
      writeFileSync(join(dir, 'proj/src/a.py'), 'a = 1\n');
      symlinkSync('/etc/passwd', join(dir, 'proj/src/passwd'));
      execFileSync('tar', ['-cjf', join(dir, 'p.tar.bz2'), '-C', dir, 'proj']);
      const got = await readArchive('p.tar.bz2', new Uint8Array(readFileSync(join(dir, 'p.tar.bz2'))));
      expect(got.files.map((f) => f.path)).toEqual(['src/a.py']);
      expect(got.skipped).toEqual([{ path: 'src/passwd', why: 'a link' }]);
      execFileSync('zip', ['-qry', join(dir, 'p.zip'), 'proj'], { cwd: dir });
      const z = await readArchive('p.zip', new Uint8Array(readFileSync(join(dir, 'p.zip'))));
      expect(z.files.map((f) => f.path)).toEqual(['src/a.py']);
      expect(z.skipped).toEqual([{ path: 'src/passwd', why: 'a link' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a zip bomb before expanding it', async () => {
    await expect(readArchive('bomb.zip', zipBomb())).rejects.toMatchObject({
      code: 'ARCHIVE_BOMB',
      message: expect.stringMatching(/"bomb\.zip" was refused: .*zeros\.txt.*zip bomb/),
    });
    await expect(readArchive('big.zip', zipBomb(), { maxTotalBytes: 1024 * 1024 })).rejects.toMatchObject({
      code: 'ARCHIVE_BOMB',
      message: expect.stringContaining('more than 1 MiB'),
    });
  });

  it('refuses a gzip/bzip2 bomb', async () => {
    const tar = await packTar([
      { header: { name: 'zeros.txt', size: 48 * 1024 * 1024, type: 'file' }, body: new Uint8Array(48 * 1024 * 1024) },
    ]);
    const bz = new Uint8Array(execFileSync('bzip2', ['-c'], { input: tar, maxBuffer: 1 << 30 }));
    await expect(readArchive('zeros.tar.bz2', bz)).rejects.toMatchObject({ code: 'ARCHIVE_BOMB' });
    const { gzipSync } = await import('fflate');
    await expect(readArchive('zeros.tgz', gzipSync(tar))).rejects.toMatchObject({ code: 'ARCHIVE_BOMB' });
  });

  it('refuses traversal and absolute entries', async () => {
    await expect(readArchive('evil.zip', traversalZip())).rejects.toMatchObject({
      code: 'ARCHIVE_UNSAFE_ENTRY',
      message: expect.stringContaining('"evil.zip" has an unsafe entry "../../escape.py"'),
    });
    await expect(readArchive('evil.tar', await traversalTar())).rejects.toMatchObject({ code: 'ARCHIVE_UNSAFE_ENTRY' });
    const abs = await packTar([{ header: { name: '/etc/cron.d/x', size: 2, type: 'file' }, body: 'x\n' }]);
    await expect(readArchive('abs.tar', abs)).rejects.toMatchObject({
      code: 'ARCHIVE_UNSAFE_ENTRY',
      message: expect.stringContaining('absolute'),
    });
  });

  it('calls a corrupt archive corrupt, by name', async () => {
    await expect(readArchive('broken.tar.gz', await corruptTgz(tree))).rejects.toMatchObject({
      code: 'ARCHIVE_CORRUPT',
      message: expect.stringContaining('"broken.tar.gz" is corrupt'),
    });
    await expect(
      readArchive(
        'noise.zip',
        new Uint8Array(4096).map((_, i) => (i * 7) & 0xff),
      ),
    ).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    await expect(readArchive('noise.tar', new Uint8Array(4096).fill(7))).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    await expect(readArchive('noise.tar.bz2', new TextEncoder().encode('BZh9 not really'))).rejects.toMatchObject({
      code: 'ARCHIVE_CORRUPT',
    });
    await expect(readArchive('notes.rar', new Uint8Array(10))).rejects.toMatchObject({ code: 'ARCHIVE_UNSUPPORTED' });
  });
});
