// gzip (fflate) and bzip2 (seek-bzip) streams, through the bomb guard.
import './buffer-global.ts';
import { Gunzip } from 'fflate';
import Bunzip from 'seek-bzip';
import { SourceError } from '../errors.ts';
import { corrupt, type InflationGuard } from './archive-limits.ts';
import { concat } from './zip.ts';

export function gunzip(name: string, data: Uint8Array, guard: InflationGuard): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const gz = new Gunzip((chunk) => {
    size += chunk.length;
    guard.check('', size, data.length, chunk.length);
    chunks.push(chunk);
  });
  try {
    for (let i = 0; i < data.length; i += 16384) gz.push(data.subarray(i, i + 16384), i + 16384 >= data.length);
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw corrupt(name, `gzip data is broken: ${(err as Error).message}`, err);
  }
  if (!size && data.length) throw corrupt(name, 'gzip data is truncated');
  return concat(chunks, size);
}

export function bunzip2(name: string, data: Uint8Array, guard: InflationGuard): Uint8Array {
  let buf = new Uint8Array(Math.max(65536, data.length * 4));
  let size = 0;
  const out = {
    writeByte(b: number) {
      if (size === buf.length) {
        guard.check('', size * 2, data.length, 0); // refuse before growing past a cap
        const next = new Uint8Array(buf.length * 2);
        next.set(buf);
        buf = next;
      }
      buf[size++] = b;
      if ((size & 0xfffff) === 0) guard.check('', size, data.length, 0x100000);
    },
  };
  try {
    Bunzip.decode(data, out, true);
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw corrupt(name, `bzip2 data is broken: ${(err as Error).message ?? String(err)}`, err);
  }
  guard.check('', size, data.length, size & 0xfffff);
  return buf.subarray(0, size);
}
