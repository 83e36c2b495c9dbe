// Stage 2 of the filter: each accepted file's mean token loss under the base model
// (forward only, windows of seqLen tokens, token-weighted), rejecting files above a
// threshold with reason "high loss" (Refact's default 3.0 nats). Losses are cached by
// content hash and model, so running the filter again costs nothing for unchanged files.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transformer } from '../gpu/transformer.ts';
import { readFloat32 } from '../gpu/buffers.ts';
import type { Progress } from '../progress.ts';
import type { TrainingFile } from '../data/types.ts';
import type { DocTokenizer } from '../data/dataset/fim.ts';
import type { RunModel } from './run.ts';
import { readJsonFile, writeJsonFile, type RunFolder } from './run-folder.ts';

export const DEFAULT_LOSS_THRESHOLD = 3.0;

export interface LossDecision {
  path: string;
  source: string;
  /** Mean loss in nats (null when the file has fewer than two tokens). */
  loss: number | null;
  /** The file's tokens as scored: its text's tokens plus EOS. */
  tokens: number;
  accepted: boolean;
  reason?: 'high loss' | 'no tokens';
  cached: boolean;
}

export interface CachedLoss {
  loss: number;
  tokens: number;
}

/** Cached losses by model id + window length + sha256(content). */
export interface LossCache {
  get(key: string): Promise<CachedLoss | undefined>;
  set(key: string, value: CachedLoss): Promise<void>;
  flush(): Promise<void>;
}

/** The window length is in the key: a file longer than one window scores differently per window. */
export function lossCacheKey(text: string, modelId: string, seqLen: number): string {
  return `${modelId}:${seqLen}:${bytesToHex(sha256(new TextEncoder().encode(text)))}`;
}

/** A cache kept as one JSON file in a RunFolder (OPFS or disk). */
export async function folderLossCache(folder: RunFolder, file = 'loss-cache.json'): Promise<LossCache> {
  // Entries of an older format (a bare number, no token count) are left out and measured again.
  const stored = Object.entries((await readJsonFile<Record<string, unknown>>(folder, file)) ?? {});
  const map = new Map(stored.filter((e): e is [string, CachedLoss] => isCachedLoss(e[1])));
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

function isCachedLoss(v: unknown): v is CachedLoss {
  return typeof v === 'object' && v !== null && typeof (v as CachedLoss).loss === 'number' && typeof (v as CachedLoss).tokens === 'number';
}

export interface LossFilterOptions {
  modelId: string;
  threshold?: number;
  seqLen: number;
  cache?: LossCache;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export async function lossFilter(
  engine: RunModel,
  tok: DocTokenizer,
  files: TrainingFile[],
  o: LossFilterOptions,
): Promise<LossDecision[]> {
  const threshold = o.threshold ?? DEFAULT_LOSS_THRESHOLD;
  const out: LossDecision[] = [];
  let tf: Transformer | undefined;
  try {
    for (const [i, f] of files.entries()) {
      o.signal?.throwIfAborted();
      o.onProgress?.({ phase: 'loss filter', done: i, total: files.length, detail: f.path });
      const key = lossCacheKey(f.text, o.modelId, o.seqLen);
      const hit = await o.cache?.get(key);
      let loss = hit?.loss ?? null;
      let tokens = hit?.tokens ?? 0;
      const cached = hit !== undefined;
      if (!hit) {
        const ids = tok.encode(f.text);
        if (tok.eos !== undefined) ids.push(tok.eos);
        tokens = ids.length;
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
        if (loss !== null) await o.cache?.set(key, { loss, tokens });
      }
      out.push({
        path: f.path,
        source: f.source,
        loss,
        tokens,
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
