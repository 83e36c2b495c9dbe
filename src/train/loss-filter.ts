// Stage 2 of the filter: each accepted file's mean token loss under the base model
// (forward only, windows of seqLen tokens, token-weighted), rejecting files above a
// threshold with reason "high loss" (Refact's default 3.0 nats). Losses are cached by
// content hash and model, so running the filter again costs nothing for unchanged files.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transformer } from '../gpu/transformer.ts';
import { readFloat32 } from '../gpu/buffers.ts';
import type { Progress } from '../progress.ts';
import type { TrainingFile } from '../data/training-file.ts';
import type { DocTokenizer } from '../data/dataset/fim.ts';
import type { RunEngine } from './run.ts';
import { readJsonFile, writeJsonFile, type RunFolder } from './run-folder.ts';

export const DEFAULT_LOSS_THRESHOLD = 3.0;

export interface LossDecision {
  path: string;
  source: string;
  /** Mean loss in nats (null when the file has fewer than two tokens). */
  loss: number | null;
  accepted: boolean;
  reason?: 'high loss' | 'no tokens';
  cached: boolean;
}

/** Cached losses by sha256(content) + model id. */
export interface LossCache {
  get(key: string): Promise<number | undefined>;
  set(key: string, loss: number): Promise<void>;
  flush(): Promise<void>;
}

export function lossCacheKey(text: string, modelId: string): string {
  return `${modelId}:${bytesToHex(sha256(new TextEncoder().encode(text)))}`;
}

/** A cache kept as one JSON file in a RunFolder (OPFS or disk). */
export async function folderLossCache(folder: RunFolder, file = 'loss-cache.json'): Promise<LossCache> {
  const map = new Map(Object.entries((await readJsonFile<Record<string, number>>(folder, file)) ?? {}));
  let dirty = false;
  return {
    get: async (k) => map.get(k),
    set: async (k, v) => {
      map.set(k, v);
      dirty = true;
    },
    flush: async () => {
      if (dirty) await writeJsonFile(folder, file, Object.fromEntries(map));
      dirty = false;
    },
  };
}

export interface LossFilterOptions {
  modelId: string;
  threshold?: number;
  seqLen: number;
  cache?: LossCache;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export async function lossFilter(engine: RunEngine, tok: DocTokenizer, files: TrainingFile[], o: LossFilterOptions): Promise<LossDecision[]> {
  const threshold = o.threshold ?? DEFAULT_LOSS_THRESHOLD;
  const out: LossDecision[] = [];
  let tf: Transformer | undefined;
  try {
    for (const [i, f] of files.entries()) {
      o.signal?.throwIfAborted();
      o.onProgress?.({ phase: 'loss filter', done: i, total: files.length, detail: f.path });
      const key = lossCacheKey(f.text, o.modelId);
      let loss = (await o.cache?.get(key)) ?? null;
      const cached = loss !== null;
      if (loss === null) {
        const ids = tok.encode(f.text);
        if (tok.eos !== undefined) ids.push(tok.eos);
        let sum = 0;
        let count = 0;
        for (let a = 0; a + 1 < ids.length; a += o.seqLen) {
          const w = ids.slice(a, a + o.seqLen);
          if (w.length < 2) break;
          tf ??= new Transformer(engine.runner, engine.memory, engine.model, undefined, { seqLen: o.seqLen });
          const n = tf.setBatch(w);
          await engine.runner.run((pass) => tf!.recordForward(pass));
          const [l] = await readFloat32(engine.runner.device, tf.loss, 1);
          if (!Number.isFinite(l)) continue; // Refact drops NaN/inf windows
          sum += l * n;
          count += n;
        }
        loss = count ? sum / count : null;
        if (loss !== null) await o.cache?.set(key, loss);
      }
      out.push({
        path: f.path,
        source: f.source,
        loss,
        accepted: loss !== null && loss <= threshold,
        reason: loss === null ? 'no tokens' : loss > threshold ? 'high loss' : undefined,
        cached,
      });
    }
    o.onProgress?.({ phase: 'loss filter', done: files.length, total: files.length });
    await o.cache?.flush();
    return out;
  } finally {
    tf?.destroy();
  }
}
