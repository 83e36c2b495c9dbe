// Archives a user drops: .zip, .tar, .tar.gz/.tgz, .tar.bz2/.tbz2. All guarded against zip
// bombs (caps on total, per-entry size and ratio), `..`/absolute paths (the whole archive is
// refused) and symlinks/devices (skipped and listed). A corrupt archive is an error naming it.
import { unpackTar } from 'modern-tar';
import { SourceError } from '../errors.ts';
import type { SourceFile } from '../types.ts';
import { corrupt, DEFAULT_ARCHIVE_LIMITS, InflationGuard, safeEntryPath, type ArchiveLimits } from './archive-limits.ts';
import { bunzip2, gunzip } from './decompress.ts';
import { readZip } from './zip.ts';

export type ArchiveKind = 'zip' | 'tar' | 'tar.gz' | 'tar.bz2';

export type ArchiveEntry = { path: string; kind: 'file'; bytes: Uint8Array } | { path: string; kind: 'symlink' | 'special' };

export interface ArchiveContents {
  kind: ArchiveKind;
  files: SourceFile[];
  /** Entries left out: symlinks, hard links, devices, fifos. */
  skipped: Array<{ path: string; why: string }>;
}

export const ARCHIVE_EXTENSIONS = ['.zip', '.tar', '.tar.gz', '.tgz', '.tar.bz2', '.tbz2', '.tbz'];

export function archiveKind(name: string, bytes?: Uint8Array): ArchiveKind | null {
  const n = name.toLowerCase();
  if (n.endsWith('.zip')) return 'zip';
  if (n.endsWith('.tar.gz') || n.endsWith('.tgz')) return 'tar.gz';
  if (n.endsWith('.tar.bz2') || n.endsWith('.tbz2') || n.endsWith('.tbz')) return 'tar.bz2';
  if (n.endsWith('.tar')) return 'tar';
  if (bytes && bytes.length > 4) {
    if (bytes[0] === 0x50 && bytes[1] === 0x4b) return 'zip';
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'tar.gz';
    if (bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68) return 'tar.bz2';
  }
  return null;
}

async function readTar(name: string, tar: Uint8Array, guard: InflationGuard): Promise<ArchiveEntry[]> {
  const out: ArchiveEntry[] = [];
  let count = 0;
  let entries: Awaited<ReturnType<typeof unpackTar>>;
  try {
    entries = await unpackTar(tar, {
      strict: true,
      filter: (h) => {
        if (++count > guard.limits.maxEntries) throw corrupt(name, `more than ${guard.limits.maxEntries} entries`);
        const path = safeEntryPath(name, h.name);
        const type = h.type ?? 'file';
        if (!path || type === 'directory') return false;
        if (type === 'symlink' || type === 'link') out.push({ path, kind: 'symlink' });
        else if (type !== 'file') out.push({ path, kind: 'special' });
        else {
          guard.check(path, h.size, 0, 0);
          return true;
        }
        return false;
      },
    });
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw corrupt(name, `tar data is broken: ${(err as Error).message}`, err);
  }
  for (const e of entries) {
    const path = safeEntryPath(name, e.header.name);
    if (path && e.data) out.push({ path, kind: 'file', bytes: e.data });
  }
  return out;
}

/** When every entry sits under one top folder (as GitHub's archives do), the paths drop it. */
function stripCommonFolder<T extends { path: string }>(entries: T[]): T[] {
  if (!entries.length) return entries;
  const first = entries[0].path.split('/')[0];
  if (!entries.every((f) => f.path.startsWith(`${first}/`))) return entries;
  return entries.map((f) => ({ ...f, path: f.path.slice(first.length + 1) }));
}

export async function readArchive(name: string, bytes: Uint8Array, limits: Partial<ArchiveLimits> = {}): Promise<ArchiveContents> {
  const kind = archiveKind(name, bytes);
  if (!kind)
    throw new SourceError(
      'ARCHIVE_UNSUPPORTED',
      `"${name}" is not an archive Homecoder reads: use .zip, .tar, .tar.gz (.tgz) or .tar.bz2.`,
    );
  const guard = new InflationGuard(name, { ...DEFAULT_ARCHIVE_LIMITS, ...limits });
  let entries: ArchiveEntry[];
  if (kind === 'zip') entries = readZip(name, bytes, guard);
  else {
    const tar = kind === 'tar' ? bytes : kind === 'tar.gz' ? gunzip(name, bytes, guard) : bunzip2(name, bytes, guard);
    if (kind !== 'tar' && tar.length / Math.max(1, bytes.length) > guard.limits.maxRatio && tar.length > guard.limits.ratioFloor) {
      guard.check('', tar.length, bytes.length, 0);
    }
    entries = await readTar(name, tar, guard);
  }
  const files: SourceFile[] = [];
  const skipped: ArchiveContents['skipped'] = [];
  const seen = new Set<string>();
  for (const e of stripCommonFolder(entries)) {
    if (e.kind !== 'file') skipped.push({ path: e.path, why: e.kind === 'symlink' ? 'a link' : 'a device, fifo or other special entry' });
    else if (!seen.has(e.path)) {
      seen.add(e.path);
      files.push({ path: e.path, bytes: e.bytes });
    }
  }
  if (!files.length && !skipped.length) throw new SourceError('SOURCE_EMPTY', `"${name}" holds no files.`);
  return { kind, files, skipped };
}
