// Builds each archive kind from one tree (fflate for zip/gzip, modern-tar for tar, the
// system's bzip2 for .tar.bz2), plus the hostile ones: a zip bomb, a traversal entry, a
// corrupt archive.
import { execFileSync } from 'node:child_process';
import { gzipSync, zipSync } from 'fflate';
import { packTar } from 'modern-tar';

export async function tarOf(files: Map<string, Uint8Array>, top = 'project'): Promise<Uint8Array> {
  return packTar([...files].map(([p, b]) => ({ header: { name: `${top}/${p}`, size: b.length, type: 'file' as const }, body: b })));
}

export async function archivesOf(files: Map<string, Uint8Array>): Promise<Record<string, Uint8Array>> {
  const tar = await tarOf(files);
  return {
    'tree.zip': zipSync(Object.fromEntries([...files].map(([p, b]) => [`project/${p}`, b]))),
    'tree.tar': tar,
    'tree.tar.gz': gzipSync(tar),
    'tree.tgz': gzipSync(tar),
    'tree.tar.bz2': new Uint8Array(execFileSync('bzip2', ['-c'], { input: tar })),
  };
}

/** 24 MiB of zeros in a zip: ≈ 24 KiB compressed, a ratio over 1000. */
export function zipBomb(): Uint8Array {
  return zipSync({ 'ok.py': new TextEncoder().encode('x = 1\n'), 'zeros.txt': new Uint8Array(24 * 1024 * 1024) }, { level: 9 });
}

export function traversalZip(): Uint8Array {
  return zipSync({ 'ok.py': new TextEncoder().encode('x = 1\n'), '../../escape.py': new TextEncoder().encode('print("out")\n') });
}

export async function traversalTar(): Promise<Uint8Array> {
  return packTar([
    { header: { name: 'ok.py', size: 6, type: 'file' }, body: 'x = 1\n' },
    { header: { name: '../escape.py', size: 6, type: 'file' }, body: 'y = 2\n' },
  ]);
}

/** A .tar.gz whose deflate data is damaged in the middle. */
export async function corruptTgz(files: Map<string, Uint8Array>): Promise<Uint8Array> {
  const gz = gzipSync(await tarOf(files));
  const bad = gz.slice(0, Math.floor(gz.length * 0.6));
  for (let i = 200; i < Math.min(bad.length, 400); i++) bad[i] ^= 0x5a;
  return bad;
}
