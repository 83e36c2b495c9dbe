// Caps that stop an archive from exhausting memory (zip bombs) and the path rules that keep
// its entries inside the source (no `..`, no absolute paths).
import { SourceError } from '../errors.ts';

export interface ArchiveLimits {
  /** Uncompressed bytes of the whole archive. */
  maxTotalBytes: number;
  /** Uncompressed bytes of one entry. */
  maxFileBytes: number;
  /** Uncompressed over compressed size, checked once an entry (or stream) passes `ratioFloor`. */
  maxRatio: number;
  ratioFloor: number;
  maxEntries: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxTotalBytes: 512 * 1024 * 1024,
  maxFileBytes: 64 * 1024 * 1024,
  maxRatio: 200,
  ratioFloor: 1024 * 1024,
  maxEntries: 500_000,
};

const MIB = 1024 * 1024;
const mib = (n: number) => `${(n / MIB).toFixed(0)} MiB`;

/** Counts uncompressed bytes and throws ARCHIVE_BOMB when a cap is passed. */
export class InflationGuard {
  total = 0;
  constructor(
    readonly archive: string,
    readonly limits: ArchiveLimits,
  ) {}

  /** `entryOut`: bytes of this entry so far; `entryIn`: its compressed size (0 when unknown). */
  check(entry: string, entryOut: number, entryIn: number, added: number): void {
    this.total += added;
    const { maxTotalBytes, maxFileBytes, maxRatio, ratioFloor } = this.limits;
    const what = entry ? `entry "${entry}"` : 'its data';
    if (this.total > maxTotalBytes) throw this.bomb(`expands to more than ${mib(maxTotalBytes)}`);
    if (entryOut > maxFileBytes) throw this.bomb(`${what} expands to more than ${mib(maxFileBytes)}`);
    if (entryIn > 0 && entryOut > ratioFloor && entryOut / entryIn > maxRatio) {
      throw this.bomb(
        `${what} expands more than ${maxRatio}× (${mib(entryOut)} from ${(entryIn / 1024).toFixed(0)} KiB so far): a zip bomb`,
      );
    }
  }

  private bomb(what: string): SourceError {
    return new SourceError(
      'ARCHIVE_BOMB',
      `"${this.archive}" was refused: it ${what}. Nothing from it was imported; unpack it yourself and add the folder if you trust it.`,
    );
  }
}

/**
 * The entry's path inside the source, or an ARCHIVE_UNSAFE_ENTRY error for `..`, absolute
 * and drive paths. Returns null for entries to skip silently (the "./" root).
 */
export function safeEntryPath(archive: string, raw: string): string | null {
  const name = raw.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw unsafe(archive, raw, 'absolute paths are refused');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe(archive, raw, 'paths that climb out of the archive ("..") are refused');
  if (!parts.length) return null;
  return parts.join('/');
}

function unsafe(archive: string, entry: string, why: string): SourceError {
  return new SourceError('ARCHIVE_UNSAFE_ENTRY', `"${archive}" has an unsafe entry "${entry}": ${why}. Nothing from it was imported.`);
}

export function corrupt(archive: string, why: string, cause?: unknown): SourceError {
  return new SourceError(
    'ARCHIVE_CORRUPT',
    `"${archive}" is corrupt or not a valid archive (${why}). Nothing from it was imported; check the file or export it again.`,
    { cause },
  );
}
