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

/**
 * Tokens per scored window, the same on the Filter and Train pages and in the CLI: the window
 * is part of the cache key, so one window length lets every caller reuse the others' losses.
 */
export const LOSS_WINDOW = 2048;

/** How the threshold is chosen: from the model's losses ('auto'), a number of nats, or no filter. */
export type LossThresholdSetting = 'auto' | 'off' | number;

export interface ThresholdChoice {
  /** Nats; null: the filter keeps every file. */
  threshold: number | null;
  /** One sentence the page and the CLI show: which threshold and why. */
  why: string;
  median: number | null;
}

/** Fewest measured files for which a threshold derived from their distribution means anything. */
const MIN_FILES_TO_DERIVE = 4;
/** A derived threshold is at least this many nats above the median. */
const MIN_MARGIN = 1;

/**
 * The automatic threshold. Refact's 3.0 nats fits real code models, whose losses on code sit
 * around 0.5–2 nats. A model whose own median is above that (a random demo model at ~7.5
 * nats, a model that does not know the language) would reject every file, so its threshold
 * is derived from its own losses instead: Tukey's upper fence Q3 + 1.5·IQR, which leaves out
 * only the files that stand out from the rest, and at least 1 nat above the median (a near-
 * uniform spread, as a random model gives, would otherwise make a few hundredths of a nat an
 * outlier). With too few files to tell, the filter is off.
 */
export function chooseThreshold(losses: number[]): ThresholdChoice {
  const xs = losses.filter(Number.isFinite).sort((a, b) => a - b);
  if (!xs.length)
    return { threshold: null, median: null, why: 'No file had enough tokens to measure, so the loss filter keeps every file.' };
  const q = (p: number) => {
    const i = p * (xs.length - 1);
    const lo = Math.floor(i);
    return xs[lo] + (xs[Math.min(lo + 1, xs.length - 1)] - xs[lo]) * (i - lo);
  };
  const median = q(0.5);
  const m = median.toFixed(2);
  if (median <= DEFAULT_LOSS_THRESHOLD)
    return {
      threshold: DEFAULT_LOSS_THRESHOLD,
      median,
      why: `Threshold ${DEFAULT_LOSS_THRESHOLD} nats (Refact's, for code models): this model's median loss on your files is ${m} nats.`,
    };
  if (xs.length < MIN_FILES_TO_DERIVE)
    return {
      threshold: null,
      median,
      why: `Loss filter off: this model's median loss (${m} nats) is above Refact's ${DEFAULT_LOSS_THRESHOLD} (a random or non-code model), and ${xs.length} files are too few to derive a threshold from.`,
    };
  const fence = Math.max(q(0.75) + 1.5 * (q(0.75) - q(0.25)), median + MIN_MARGIN);
  return {
    threshold: Math.round(fence * 1000) / 1000,
    median,
    why: `Threshold ${fence.toFixed(2)} nats, from this model's own losses (upper quartile + 1.5 × interquartile range, at least ${MIN_MARGIN} nat above the median): its median loss ${m} nats is far above Refact's ${DEFAULT_LOSS_THRESHOLD} for code models (a random or non-code model), which would reject every file.`,
  };
}

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
  threshold?: number | 'auto';
  seqLen: number;
  cache?: LossCache;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Seconds the phases after this one will take, from its forward time per token (added to its ETA). */
  etaAfter?: (msPerToken: number) => number;
}

/** A file's measured loss, before a threshold decides. */
export type MeasuredLoss = Omit<LossDecision, 'accepted' | 'reason'>;

export interface LossFilterResult {
  decisions: LossDecision[];
  choice: ThresholdChoice;
  /** Files measured now (not from the cache), their tokens and the time it took. */
  measured: { files: number; tokens: number; ms: number };
}

/** Stage 2 with its threshold chosen ('auto': chooseThreshold) after the losses are known. */
export async function runLossFilter(
  engine: RunModel,
  tok: DocTokenizer,
  files: TrainingFile[],
  o: LossFilterOptions,
): Promise<LossFilterResult> {
  const { losses, measured } = await measureLosses(engine, tok, files, o);
  const setting = o.threshold ?? DEFAULT_LOSS_THRESHOLD;
  const choice =
    setting === 'auto'
      ? chooseThreshold(losses.map((l) => l.loss).filter((x): x is number => x !== null))
      : { threshold: setting, median: null, why: `Threshold ${setting} nats (set by you).` };
  return { decisions: decide(losses, choice.threshold), choice, measured };
}

/** Stage 2 at a threshold (a number of nats; 'auto' chooses it from the losses). */
export async function lossFilter(
  engine: RunModel,
  tok: DocTokenizer,
  files: TrainingFile[],
  o: LossFilterOptions,
): Promise<LossDecision[]> {
  return (await runLossFilter(engine, tok, files, o)).decisions;
}

/** Accepts files at or under the threshold (null: every file with a loss). */
export function decide(losses: MeasuredLoss[], threshold: number | null): LossDecision[] {
  return losses.map((l) => {
    const high = l.loss !== null && threshold !== null && l.loss > threshold;
    return { ...l, accepted: l.loss !== null && !high, reason: l.loss === null ? 'no tokens' : high ? 'high loss' : undefined };
  });
}

/**
 * Each file's mean loss (cached ones from the cache). Progress carries the rate and the time
 * left, from the time per character of the files measured so far; Stop is seen between windows.
 */
export async function measureLosses(
  engine: RunModel,
  tok: DocTokenizer,
  files: TrainingFile[],
  o: LossFilterOptions,
): Promise<{ losses: MeasuredLoss[]; measured: LossFilterResult['measured'] }> {
  const out: MeasuredLoss[] = [];
  const keys = files.map((f) => lossCacheKey(f.text, o.modelId, o.seqLen));
  const hits = await Promise.all(keys.map((k) => o.cache?.get(k)));
  let charsLeft = files.reduce((a, f, i) => a + (hits[i] ? 0 : f.text.length), 0);
  const measured = { files: 0, tokens: 0, ms: 0 };
  let charsDone = 0;
  let tf: Transformer | undefined;
  const report = (i: number, detail?: string) => {
    const msPerChar = charsDone ? measured.ms / charsDone : undefined;
    o.onProgress?.({
      phase: 'loss filter',
      done: i,
      total: files.length,
      detail,
      rate: measured.ms ? `${((1000 * measured.tokens) / measured.ms).toFixed(0)} tokens/s` : undefined,
      etaSeconds:
        msPerChar !== undefined
          ? (charsLeft * msPerChar) / 1000 + (o.etaAfter?.(measured.ms / Math.max(1, measured.tokens)) ?? 0)
          : undefined,
    });
  };
  try {
    for (const [i, f] of files.entries()) {
      o.signal?.throwIfAborted();
      report(i, f.path);
      const hit = hits[i];
      let loss = hit?.loss ?? null;
      let tokens = hit?.tokens ?? 0;
      if (!hit) {
        const t0 = performance.now();
        const ids = tok.encode(f.text);
        if (tok.eos !== undefined) ids.push(tok.eos);
        tokens = ids.length;
        let sum = 0;
        let count = 0;
        for (let a = 0; a + 1 < ids.length; a += o.seqLen) {
          o.signal?.throwIfAborted(); // a long file is many windows: Stop does not wait for all of them
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
        if (loss !== null) await o.cache?.set(keys[i], { loss, tokens });
        measured.files++;
        measured.tokens += tokens;
        measured.ms += performance.now() - t0;
        charsDone += f.text.length;
        charsLeft -= f.text.length;
      }
      out.push({ path: f.path, source: f.source, loss, tokens, cached: hit !== undefined });
    }
    report(files.length);
    return { losses: out, measured };
  } finally {
    tf?.destroy();
    // Also after a Stop: the files measured so far cost nothing next time.
    await o.cache?.flush();
  }
}

/** What stage 2 will cost, before it runs: files already measured (cached) and the rest. */
export interface LossFilterCost {
  files: number;
  cachedFiles: number;
  /** Tokens of the cached files (exact) plus an estimate for the rest (characters / 4). */
  tokens: number;
  tokensToMeasure: number;
  /** From the time per token this model took before on this device; null when never measured. */
  seconds: number | null;
}

export async function lossFilterCost(
  files: TrainingFile[],
  modelId: string,
  cache: LossCache,
  msPerToken: number | undefined,
): Promise<LossFilterCost> {
  let cachedFiles = 0;
  let tokens = 0;
  let tokensToMeasure = 0;
  for (const f of files) {
    const hit = await cache.get(lossCacheKey(f.text, modelId, LOSS_WINDOW));
    if (hit) {
      cachedFiles++;
      tokens += hit.tokens;
    } else tokensToMeasure += Math.ceil(f.text.length / 4);
  }
  tokens += tokensToMeasure;
  return {
    files: files.length,
    cachedFiles,
    tokens,
    tokensToMeasure,
    seconds: msPerToken === undefined ? null : (tokensToMeasure * msPerToken) / 1000,
  };
}
