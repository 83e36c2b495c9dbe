// Where the tuner's choices are kept: IndexedDB in the browser (on fake-indexeddb here, the
// same `idb` code the app runs) and a JSON file in Node; both keyed per adapter and kernels'
// revision, and merged so another model's shapes stay.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterKey, applyStoredPicks, indexedDbTuneStore, KERNELS_REVISION, savePicks, type TuneStore } from '../../src/gpu/tune-store.ts';
import { defaultTuneCachePath, fileTuneStore } from '../../src/cli/tune-cache.ts';
import { KernelSelection, shapeKey, tokenBucket } from '../../src/gpu/kernel-versions.ts';
import type { GpuInfo } from '../../src/gpu/device.ts';

const info = { vendor: 'nvidia', architecture: 'ada', device: 'RTX 4070 Laptop', description: 'Vulkan 1.3' } as GpuInfo;
const selection = () => new KernelSelection(new Set(['shader-f16', 'subgroups']), 32768);

async function roundTrip(store: TuneStore) {
  const a = selection();
  a.setPick('linear', { T: 1024, K: 896, N: 4864 }, 'linear.tiled-f16');
  a.setPick('gemv', { T: 1, K: 896, N: 151936 }, 'gemv.subgroup');
  await savePicks(store, info, a);
  const b = selection();
  b.setPick('linear-dx', { T: 512, K: 4864, N: 896 }, 'linear-dx.tiled');
  await savePicks(store, info, b); // merged with a's
  const c = selection();
  expect(await applyStoredPicks(store, info, c)).toBe(3);
  expect(c.picksRecord()).toEqual({
    'linear T1024 K896 N4864': 'linear.tiled-f16',
    'gemv T1 K896 N151936': 'gemv.subgroup',
    'linear-dx T512 K4864 N896': 'linear-dx.tiled',
  });
  expect(await applyStoredPicks(store, { ...info, device: 'another GPU' }, selection())).toBe(0);
}

describe('tuned kernel choices', () => {
  it('are keyed by adapter and kernels revision; token counts bucket to powers of two', () => {
    expect(adapterKey(info)).toBe(`nvidia | ada | RTX 4070 Laptop | Vulkan 1.3 | kernels r${KERNELS_REVISION}`);
    expect([1, 2, 3, 500, 512, 513].map(tokenBucket)).toEqual([1, 2, 4, 512, 512, 1024]);
    expect(shapeKey('linear', { T: 500, K: 896, N: 128 })).toBe('linear T512 K896 N128');
  });

  it('survive in IndexedDB', async () => {
    await roundTrip(indexedDbTuneStore('test-kernels'));
  });

  it('survive in a JSON file under the cache folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hc-tune-store-'));
    try {
      expect(defaultTuneCachePath({ XDG_CACHE_HOME: dir })).toBe(join(dir, 'homecoder', 'kernels.json'));
      const store = fileTuneStore(defaultTuneCachePath({ XDG_CACHE_HOME: dir }));
      await roundTrip(store);
      expect(Object.keys(JSON.parse(readFileSync(store.path, 'utf8')))).toEqual([adapterKey(info)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
