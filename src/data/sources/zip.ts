// .zip: the central directory read here (names, sizes, unix modes to spot symlinks and
// devices), each entry inflated by fflate through the bomb guard.
import { Inflate } from 'fflate';
import { SourceError } from '../errors.ts';
import { corrupt, type InflationGuard, safeEntryPath } from './archive-limits.ts';
import type { ArchiveEntry } from './archive.ts';

const EOCD = 0x06054b50;
const CDH = 0x02014b50;
const LFH = 0x04034b50;
const utf8 = new TextDecoder('utf-8');

const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;

/** A 64-bit little-endian field, refused past 2^53 (no real archive is that large). */
function big(dv: DataView, at: number, name: string, what: string): number {
  if (at + 8 > dv.byteLength) throw corrupt(name, `a truncated zip64 ${what}`);
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(name, `a zip64 ${what} of ${v}`);
  return Number(v);
}

/** The zip64 extended information extra field of an entry: where its data starts, and its length. */
function zip64Extra(dv: DataView, from: number, len: number): { start: number; length: number } | undefined {
  for (let q = from; q + 4 <= from + len && q + 4 <= dv.byteLength; ) {
    const id = dv.getUint16(q, true);
    const size = dv.getUint16(q + 2, true);
    if (id === 1) return { start: q + 4, length: Math.min(size, dv.byteLength - q - 4) };
    q += 4 + size;
  }
  return undefined;
}

export function readZip(name: string, bytes: Uint8Array, guard: InflationGuard): ArchiveEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt(name, 'no zip end-of-directory record');
  let count = dv.getUint16(eocd + 10, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  // ZIP64 (zip -fz, Java, Windows, Python for large files): the real count and offset are in
  // the zip64 end record, found through the locator just before the classic one.
  if (eocd >= 20 && dv.getUint32(eocd - 20, true) === EOCD64_LOCATOR) {
    const at = big(dv, eocd - 20 + 8, name, 'zip64 end record offset');
    if (at + 56 > bytes.length || dv.getUint32(at, true) !== EOCD64) throw corrupt(name, 'a broken zip64 end record');
    count = big(dv, at + 32, name, 'entry count');
    cdOffset = big(dv, at + 48, name, 'central directory offset');
  } else if (count === 0xffff || cdOffset === 0xffffffff) throw corrupt(name, 'a zip64 archive without its zip64 end record');
  if (count > guard.limits.maxEntries) throw corrupt(name, `${count} entries, more than ${guard.limits.maxEntries}`);
  const out: ArchiveEntry[] = [];
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== CDH) throw corrupt(name, 'a broken central directory');
    const madeBy = dv.getUint16(p + 4, true) >> 8;
    const method = dv.getUint16(p + 10, true);
    let csize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nlen = dv.getUint16(p + 28, true);
    const elen = dv.getUint16(p + 30, true);
    const clen = dv.getUint16(p + 32, true);
    const ext = dv.getUint32(p + 38, true);
    let local = dv.getUint32(p + 42, true);
    const raw = utf8.decode(bytes.subarray(p + 46, p + 46 + nlen));
    if (usize === 0xffffffff || csize === 0xffffffff || local === 0xffffffff) {
      // The zip64 extra field (id 1) holds, in this order, each of these that is 0xffffffff.
      const z = zip64Extra(dv, p + 46 + nlen, elen);
      let q = 0;
      const next = (what: string) => {
        if (!z || q + 8 > z.length) throw corrupt(name, `entry "${raw}" lacks its zip64 ${what}`);
        const v = big(dv, z.start + q, name, what);
        q += 8;
        return v;
      };
      if (usize === 0xffffffff) usize = next('size');
      if (csize === 0xffffffff) csize = next('compressed size');
      if (local === 0xffffffff) local = next('offset');
    }
    p += 46 + nlen + elen + clen;
    const path = safeEntryPath(name, raw);
    if (!path || raw.endsWith('/')) continue;
    const mode = madeBy === 3 ? ext >>> 16 : 0; // unix "made by": mode in the high half
    const type = mode & 0o170000;
    if (type === 0o120000) {
      out.push({ path, kind: 'symlink' });
      continue;
    }
    if (type !== 0 && type !== 0o100000 && type !== 0o040000) {
      out.push({ path, kind: 'special' });
      continue;
    }
    if (type === 0o040000) continue;
    if (local + 30 > bytes.length || dv.getUint32(local, true) !== LFH) throw corrupt(name, `entry "${raw}" has no local header`);
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (start + csize > bytes.length) throw corrupt(name, `entry "${raw}" is truncated`);
    const data = bytes.subarray(start, start + csize);
    if (usize > guard.limits.maxFileBytes) guard.check(path, usize, csize, 0);
    if (method === 0) {
      guard.check(path, csize, 0, csize);
      out.push({ path, kind: 'file', bytes: data.slice() });
    } else if (method === 8) {
      out.push({ path, kind: 'file', bytes: inflate(name, path, data, guard) });
    } else {
      throw new SourceError(
        'ARCHIVE_UNSUPPORTED',
        `"${name}": entry "${raw}" uses compression method ${method}; only stored and deflate are supported.`,
      );
    }
  }
  return out;
}

function inflate(name: string, path: string, data: Uint8Array, guard: InflationGuard): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const inf = new Inflate((chunk) => {
    size += chunk.length;
    guard.check(path, size, data.length, chunk.length);
    chunks.push(chunk);
  });
  try {
    // Pushed in slices so the guard stops a bomb after little work.
    for (let i = 0; i < data.length; i += 16384) inf.push(data.subarray(i, i + 16384), i + 16384 >= data.length);
    if (data.length === 0) inf.push(new Uint8Array(0), true);
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw corrupt(name, `entry "${path}" does not inflate: ${(err as Error).message}`, err);
  }
  return concat(chunks, size);
}

export function concat(chunks: Uint8Array[], size = chunks.reduce((a, c) => a + c.length, 0)): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
