// Where the tuner's choices are kept: per adapter (vendor, architecture, device, driver
// description) and per shape, so a second run on the same GPU starts with them. Node keeps
// a JSON file in the user's cache folder (src/cli/tune-cache.ts); the browser keeps them in
// IndexedDB (below). A change to the kernels bumps KERNELS_REVISION, which drops old picks.
import { openDB } from 'idb';
import type { GpuInfo } from './device.ts';
import type { KernelPicks, KernelSelection } from './kernel-versions.ts';

/** Bumped whenever a kernel version changes: stored picks for an older revision are ignored. */
export const KERNELS_REVISION = 2;

export interface TuneStore {
  load(adapterKey: string): Promise<KernelPicks | undefined>;
  save(adapterKey: string, picks: KernelPicks): Promise<void>;
}

/** The key stored picks are filed under: the adapter as the driver names it, and the kernels' revision. */
export function adapterKey(info: AdapterNames): string {
  return `${info.vendor} | ${info.architecture} | ${info.device} | ${info.description} | kernels r${KERNELS_REVISION}`;
}

type AdapterNames = Pick<GpuInfo, 'vendor' | 'architecture' | 'device' | 'description'>;

/** Loads this adapter's stored picks into a selection; returns how many there were. */
export async function applyStoredPicks(store: TuneStore, info: AdapterNames, selection: KernelSelection): Promise<number> {
  const picks = await store.load(adapterKey(info));
  if (!picks) return 0;
  selection.loadPicks(picks);
  return Object.keys(picks).length;
}

/** Saves a selection's picks for this adapter, merged with what was stored (other models' shapes stay). */
export async function savePicks(store: TuneStore, info: AdapterNames, selection: KernelSelection): Promise<void> {
  const key = adapterKey(info);
  const old = (await store.load(key)) ?? {};
  await store.save(key, { ...old, ...selection.picksRecord() });
}

/**
 * Applies the picks stored for this device's adapter, where a store exists (the browser's
 * IndexedDB); a store that cannot be read leaves the register versions, never an error.
 */
export async function applyBrowserPicks(device: GPUDevice, selection: KernelSelection): Promise<number> {
  if (typeof indexedDB === 'undefined' || !device.adapterInfo) return 0;
  return applyStoredPicks(indexedDbTuneStore(), device.adapterInfo, selection).catch(() => 0);
}

/** The browser's store: one IndexedDB object store, adapter key → picks. */
export function indexedDbTuneStore(dbName = 'homecoder-kernels'): TuneStore {
  const db = () =>
    openDB(dbName, 1, {
      upgrade(d) {
        d.createObjectStore('picks');
      },
    });
  return {
    async load(key) {
      return (await (await db()).get('picks', key)) as KernelPicks | undefined;
    },
    async save(key, picks) {
      await (await db()).put('picks', picks, key);
    },
  };
}
