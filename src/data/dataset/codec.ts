// A dataset as one binary file (stored in OPFS or on disk next to its run), so a run
// restarts without tokenizing again: u32 header length, JSON header, then the train and
// test token ids (u32) and masks (u8), each aligned to 4 bytes.
import { DatasetError } from '../errors.ts';
import type { Dataset } from './build.ts';
import type { PackedTokens } from './pack.ts';

const MAGIC = 'homecoder-dataset-1';
const pad4 = (n: number) => (n + 3) & ~3;

export function encodeDataset(d: Dataset): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({
      magic: MAGIC,
      settings: d.settings,
      trainPaths: d.trainPaths,
      testPaths: d.testPaths,
      stats: d.stats,
      train: d.train.ids.length,
      test: d.test.ids.length,
    }),
  );
  const parts: Uint8Array[] = [new Uint8Array(new Uint32Array([header.length]).buffer), header];
  for (const p of [d.train, d.test]) parts.push(new Uint8Array(p.ids.buffer, p.ids.byteOffset, p.ids.byteLength), p.mask);
  const size = parts.reduce((n, p) => n + pad4(p.length), 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += pad4(p.length);
  }
  return out;
}

export function decodeDataset(bytes: Uint8Array): Dataset {
  const bad = () => new DatasetError('BAD_DATASET', 'The stored dataset is damaged; start a new run to build it again.');
  if (bytes.length < 4) throw bad();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(0, true);
  let h: {
    magic: string;
    settings: Dataset['settings'];
    trainPaths: string[];
    testPaths: string[];
    stats: Dataset['stats'];
    train: number;
    test: number;
  };
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hlen)));
  } catch {
    throw bad();
  }
  if (h.magic !== MAGIC) throw bad();
  let at = 4 + pad4(hlen);
  const take = (n: number): PackedTokens => {
    if (at + pad4(n * 4) + n > bytes.length) throw bad();
    const ids = new Uint32Array(bytes.slice(at, at + n * 4).buffer);
    at += pad4(n * 4);
    const mask = bytes.slice(at, at + n);
    at += pad4(n);
    return { seqLen: h.settings.seqLen, ids, mask };
  };
  const train = take(h.train);
  const test = take(h.test);
  return { settings: h.settings, train, test, trainPaths: h.trainPaths, testPaths: h.testPaths, stats: h.stats };
}
