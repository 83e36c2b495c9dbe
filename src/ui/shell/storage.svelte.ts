// The browser storage the status bar shows (use, quota, whether it is persistent), shared by
// the pages: they refresh it after storing something, and ask for persistence when the first
// model or source is stored, so the browser does not evict a download when space runs low.

export interface StorageState {
  usage?: number;
  quota?: number;
  /** undefined until known; false: the browser may clear it under storage pressure. */
  persisted?: boolean;
}

export const storage = $state<StorageState>({});

/** Reads the figures again (after a download, an import, a checkpoint). */
export async function refreshStorage(): Promise<void> {
  const s = navigator.storage;
  if (!s) return;
  const [e, p] = await Promise.all([s.estimate?.(), s.persisted?.()]);
  if (e) Object.assign(storage, { usage: e.usage ?? 0, quota: e.quota ?? 0 });
  if (p !== undefined) storage.persisted = p;
}

let asked = false;

/**
 * Asks once per page load for persistent storage (the browser may grant it silently or ask
 * the user), then refreshes the figures; returns whether storage is persistent.
 */
export async function storedSomething(): Promise<boolean> {
  if (!asked && navigator.storage?.persist && !(await navigator.storage.persisted())) {
    asked = true;
    await navigator.storage.persist().catch(() => false);
  }
  await refreshStorage();
  return storage.persisted ?? false;
}

/** Downloads above this size are worth a warning while storage is not persistent. */
export const LARGE_DOWNLOAD = 200 * 1024 * 1024;
