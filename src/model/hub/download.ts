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
  const folder = await store.folder(modelId(hub.repo, hub.revision));
  const manifest = await startManifest(hub, folder, plan);
  await readSizes(hub, manifest, plan.files, signal);
  await folder.writeManifest(manifest);
  const meter = new DownloadMeter(manifest, onProgress);
  for (const [name, entry] of Object.entries(manifest.files)) {
    if (entry.done && (await folder.size(name)) === entry.size) continue;
    entry.done = false;
    await downloadFile(hub, folder, name, entry, meter, opts);
    entry.done = true;
    manifest.updatedAt = new Date().toISOString();
    await folder.writeManifest(manifest);
  }
  manifest.complete = true;
  await folder.writeManifest(manifest);
  onProgress?.({ phase: 'done', done: meter.total, total: meter.total, detail: hub.repo });
  return manifest;
}

type Plan = Awaited<ReturnType<Hub['plan']>>;
type FileEntry = Manifest['files'][string];

/** A fresh manifest for the plan's files that keeps what an earlier download stored. */
async function startManifest(hub: Hub, folder: ModelFolder, plan: Plan): Promise<Manifest> {
  const old = await folder.readManifest();
  const manifest: Manifest = {
    id: modelId(hub.repo, hub.revision),
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
  return manifest;
}

/** Sizes (and published hashes) up front, so progress has a total and an honest ETA; absent optional files are dropped. */
async function readSizes(hub: Hub, manifest: Manifest, files: Plan['files'], signal?: AbortSignal): Promise<void> {
  for (const f of files) {
    signal?.throwIfAborted();
    if (manifest.files[f.name].size !== undefined) continue;
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

/** Bytes stored of the total, and the rate and time left of this session's fetching. */
class DownloadMeter {
  readonly total: number;
  done = 0;
  private fetched = 0;
  private readonly t0 = Date.now();

  constructor(
    manifest: Manifest,
    private readonly onProgress?: (p: Progress) => void,
  ) {
    const entries = Object.values(manifest.files);
    this.total = entries.reduce((s, e) => s + (e.size ?? 0), 0);
    for (const e of entries) if (e.done) this.done += e.size ?? 0;
  }

  fetchedBytes(file: string, n: number): void {
    this.done += n;
    this.fetched += n;
    const secs = (Date.now() - this.t0) / 1000;
    const rate = secs > 0 ? this.fetched / secs : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : undefined;
    this.onProgress?.({
      phase: 'downloading',
      done: this.done,
      total: this.total,
      detail: `${file} · ${(rate / 2 ** 20).toFixed(1)} MiB/s${eta !== undefined ? ` · ${Math.ceil(eta)} s left` : ''}`,
    });
  }

  verifying(file: string): void {
    this.onProgress?.({ phase: 'verifying', done: this.done, total: this.total, detail: `${file}: sha256` });
  }
}

/** One file, fetched until it checks out: a corrupt or truncated file is fetched again from scratch, once. */
async function downloadFile(hub: Hub, folder: ModelFolder, name: string, entry: FileEntry, meter: DownloadMeter, opts: DownloadOptions) {
  for (let attempt = 0; ; attempt++) {
    const before = await fetchFile(hub, folder, name, entry.size, opts.signal, (n) => meter.fetchedBytes(name, n));
    const size = await folder.size(name);
    const bad = await fileProblem(folder, name, size, entry, meter, opts.signal);
    if (!bad) return;
    meter.done -= size - before;
    await folder.remove(name);
    if (attempt >= 1)
      throw new ModelError(
        'TRUNCATED_FILE',
        `${hub.repo}/${name} ${bad} after downloading it twice. Try again later, or check the hub mirror.`,
        {
          file: name,
        },
      );
  }
}

/** What is wrong with a fetched file by its size and published sha256 ('' when nothing). */
async function fileProblem(
  folder: ModelFolder,
  name: string,
  size: number,
  entry: FileEntry,
  meter: DownloadMeter,
  signal?: AbortSignal,
): Promise<string> {
  if (entry.size !== undefined && size !== entry.size) return `is ${size} bytes, expected ${entry.size}`;
  if (!entry.sha256) return '';
  meter.verifying(name);
  const h = sha256.create();
  for await (const chunk of folder.chunks(name)) {
    signal?.throwIfAborted();
    h.update(chunk);
  }
  const got = bytesToHex(h.digest());
  return got !== entry.sha256 ? `has sha256 ${got.slice(0, 12)}…, the hub says ${entry.sha256.slice(0, 12)}…` : '';
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
