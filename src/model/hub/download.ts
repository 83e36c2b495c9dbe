// Downloads a model from a hub into a ModelStore: config first (an unsupported
// architecture is refused before any weight is fetched), then tokenizer and weights,
// streamed with progress (bytes, rate, ETA), resumable from what is stored (HTTP Range),
// verified by size and, where the hub publishes it, sha256. Cancellable at any chunk.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Progress } from '../../progress.ts';
import { type Hub, HubError, publishedSha256, totalSize } from './client.ts';
import { ModelError } from '../errors.ts';
import { modelId, type Manifest, type ModelFolder, type ModelStore } from '../storage/store.ts';

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export async function downloadModel(hub: Hub, store: ModelStore, opts: DownloadOptions = {}): Promise<Manifest> {
  const { signal, onProgress } = opts;
  onProgress?.({ phase: 'checking', done: 0, total: 1, detail: `${hub.repo}: reading config.json` });
  const plan = await hub.plan();
  const id = modelId(hub.repo, hub.revision);
  const folder = await store.folder(id);
  const old = await folder.readManifest();
  const manifest: Manifest = {
    id,
    repo: hub.repo,
    revision: hub.revision,
    endpoint: hub.endpoint,
    architecture: plan.config.architecture,
    files: {},
    complete: false,
    updatedAt: new Date().toISOString(),
  };
  for (const f of plan.files) manifest.files[f.name] = old?.files[f.name] ?? { done: false };
  await folder.writeManifest(manifest);

  // Sizes up front, so progress has a total and an honest ETA.
  for (const f of plan.files) {
    signal?.throwIfAborted();
    if (manifest.files[f.name].size === undefined) {
      const res = await hub.get(f.name, { optional: !f.required, from: 0, signal });
      if (!res) {
        delete manifest.files[f.name];
        continue;
      }
      manifest.files[f.name].size = totalSize(res, 0);
      manifest.files[f.name].sha256 = publishedSha256(res);
      await res.body?.cancel();
    }
  }
  await folder.writeManifest(manifest);
  const names = Object.keys(manifest.files);
  const total = names.reduce((s, n) => s + (manifest.files[n].size ?? 0), 0);
  let done = 0;
  for (const n of names) if (manifest.files[n].done) done += manifest.files[n].size ?? 0;
  const t0 = Date.now();
  let fetched = 0;
  const report = (file: string) => {
    const secs = (Date.now() - t0) / 1000;
    const rate = secs > 0 ? fetched / secs : 0;
    const eta = rate > 0 ? (total - done) / rate : undefined;
    onProgress?.({
      phase: 'downloading',
      done,
      total,
      detail: `${file} · ${(rate / 2 ** 20).toFixed(1)} MiB/s${eta !== undefined ? ` · ${Math.ceil(eta)} s left` : ''}`,
    });
  };

  for (const name of names) {
    const entry = manifest.files[name];
    if (entry.done && (await folder.size(name)) === entry.size) continue;
    entry.done = false;
    for (let attempt = 0; ; attempt++) {
      const before = await fetchFile(hub, folder, name, entry.size, signal, (n) => {
        done += n;
        fetched += n;
        report(name);
      });
      const size = await folder.size(name);
      let bad = entry.size !== undefined && size !== entry.size ? `is ${size} bytes, expected ${entry.size}` : '';
      if (!bad && entry.sha256) {
        onProgress?.({ phase: 'verifying', done, total, detail: `${name}: sha256` });
        const h = sha256.create();
        for await (const chunk of folder.chunks(name)) {
          signal?.throwIfAborted();
          h.update(chunk);
        }
        const got = bytesToHex(h.digest());
        if (got !== entry.sha256) bad = `has sha256 ${got.slice(0, 12)}…, the hub says ${entry.sha256.slice(0, 12)}…`;
      }
      if (!bad) break;
      // A corrupt or truncated file is fetched again from scratch, once.
      done -= size - before;
      await folder.remove(name);
      if (attempt >= 1)
        throw new ModelError(
          'TRUNCATED_FILE',
          `${hub.repo}/${name} ${bad} after downloading it twice. Try again later, or check the hub mirror.`,
          { file: name },
        );
    }
    entry.done = true;
    manifest.updatedAt = new Date().toISOString();
    await folder.writeManifest(manifest);
  }
  manifest.complete = true;
  await folder.writeManifest(manifest);
  onProgress?.({ phase: 'done', done: total, total, detail: hub.repo });
  return manifest;
}

/** Fetches the rest of one file (from what is stored); returns the bytes it had before. */
async function fetchFile(
  hub: Hub,
  folder: ModelFolder,
  name: string,
  size: number | undefined,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<number> {
  let from = await folder.size(name);
  if (size !== undefined && from > size) {
    await folder.remove(name);
    from = 0;
  }
  if (size !== undefined && from === size) return from;
  const res = await hub.get(name, { from, signal });
  if (!res) throw new HubError('NOT_FOUND', `${hub.repo}/${name} disappeared during the download.`);
  if (res.status === 416) return from;
  // A server that ignores Range sends the whole file: start over.
  const start = res.status === 206 ? from : 0;
  const writer = await folder.writer(name, start);
  try {
    const reader = res.body!.getReader();
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      await writer.write(value);
      onBytes(value.byteLength);
    }
  } finally {
    await writer.close();
  }
  return start;
}
