// Evaluation none of the baselines give: on the test files, the base model against a
// checkpoint — test loss, and fill-in-the-middle exact match of one held-out line per
// file with greedy decoding — side by side.
import { GpuLora } from '../gpu/lora.ts';
import { Transformer } from '../gpu/transformer.ts';
import { Rng } from '../random.ts';
import { withEta, type Progress } from '../progress.ts';
import type { DocTokenizer } from '../data/dataset/fim.ts';
import type { PackedTokens } from '../data/dataset/pack.ts';
import type { HostAdapter, LoraConfig } from '../model/types.ts';
import type { RunModel } from './run.ts';
import { packedLoss } from './eval-loss.ts';
import { GreedyDecoder } from './greedy.ts';
import type { EvaluationResult } from './run-record.ts';

export interface HeldOutLine {
  prefix: string;
  line: string;
  suffix: string;
}

/** A deterministic non-blank line of `text` (by seed and path) with what is around it. */
export function heldOutLine(path: string, text: string, seed: number): HeldOutLine | undefined {
  const lines = text.split('\n');
  const candidates = lines
    .map((l, i) => ({ l, i }))
    .filter(({ l, i }) => l.trim().length >= 3 && i < lines.length - (text.endsWith('\n') ? 1 : 0));
  if (!candidates.length) return undefined;
  let h = seed >>> 0;
  for (let k = 0; k < path.length; k++) h = Math.imul(h ^ path.charCodeAt(k), 16777619) >>> 0;
  const { i } = candidates[Math.floor(new Rng(h).next() * candidates.length)];
  return {
    prefix: lines
      .slice(0, i)
      .map((l) => `${l}\n`)
      .join(''),
    line: lines[i],
    suffix: lines.slice(i + 1).join('\n'),
  };
}

export interface EvaluateOptions {
  seed: number;
  /** Files measured for exact match (the first ones). */
  maxFiles?: number;
  /** Tokens of prefix and of suffix kept around the hole. */
  contextTokens?: number;
  maxTestBlocks?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export async function evaluateCheckpoint(
  engine: RunModel,
  tok: DocTokenizer,
  test: { files: Array<{ path: string; text: string }>; blocks: PackedTokens },
  tuned: { step: number; lora: LoraConfig; layers: HostAdapter },
  o: EvaluateOptions,
): Promise<EvaluationResult> {
  const fim = tok.fim;
  const ctx = o.contextTokens ?? 192;
  const holes = test.files
    .map((f) => ({ path: f.path, hole: heldOutLine(f.path, f.text, o.seed) }))
    .filter((x): x is { path: string; hole: HeldOutLine } => !!x.hole)
    .slice(0, o.maxFiles ?? 16);
  const prompts = holes.map(({ hole }) => {
    const pre = tok.encode(hole.prefix, { bos: false }).slice(-ctx);
    const suf = tok.encode(hole.suffix, { bos: false }).slice(0, ctx);
    const lineTokens = tok.encode(hole.line, { bos: false }).length;
    const bos = tok.addBos && tok.bos !== undefined ? [tok.bos] : [];
    return { ids: fim ? [...bos, fim.prefix, ...pre, fim.suffix, ...suf, fim.middle] : [...bos, ...pre], maxNew: lineTokens + 2 };
  });
  const maxTokens = Math.max(2, ...prompts.map((p) => p.ids.length + p.maxNew));
  const total = 2 * (holes.length + 1);
  let done = 0;
  const onProgress = withEta(o.onProgress, 'parts');
  const progress = (detail: string) => onProgress?.({ phase: 'evaluating', done: done++, total, detail });
  const stopIds = new Set([tok.eos, fim?.prefix, fim?.suffix, fim?.middle].filter((x): x is number => x !== undefined));
  const decodeText = (ids: number[]) => tok.decode(ids.filter((i) => !stopIds.has(i)));

  async function side(adapter: GpuLora | undefined, label: string): Promise<{ testLoss: number; exactMatch: number; outputs: string[] }> {
    progress(`${label}: test loss`);
    const tf = new Transformer(engine.runner, engine.memory, engine.model, adapter, { seqLen: test.blocks.seqLen });
    let testLoss: number;
    try {
      testLoss = await packedLoss(tf, engine.runner, test.blocks, { signal: o.signal, maxBlocks: o.maxTestBlocks });
    } finally {
      tf.destroy();
    }
    const dec = new GreedyDecoder(engine, adapter, maxTokens);
    const outputs: string[] = [];
    let hits = 0;
    try {
      for (const [k, p] of prompts.entries()) {
        progress(`${label}: ${holes[k].path}`);
        const ids = await dec.generate(p.ids, {
          maxNewTokens: p.maxNew,
          signal: o.signal,
          stop: (id, gen) => stopIds.has(id) || decodeText(gen).includes('\n'),
        });
        const line = decodeText(ids).split('\n')[0];
        outputs.push(line);
        if (line.trimEnd() === holes[k].hole.line.trimEnd()) hits++;
      }
    } finally {
      dec.destroy();
    }
    return { testLoss, exactMatch: prompts.length ? hits / prompts.length : 0, outputs };
  }

  const base = await side(undefined, 'base model');
  const adapter = new GpuLora(engine.memory, tuned.lora, tuned.layers, { trainable: false });
  let t: Awaited<ReturnType<typeof side>>;
  try {
    t = await side(adapter, `checkpoint ${tuned.step}`);
  } finally {
    adapter.destroy();
  }
  return {
    files: holes.length,
    base: { testLoss: base.testLoss, exactMatch: base.exactMatch },
    tuned: { step: tuned.step, testLoss: t.testLoss, exactMatch: t.exactMatch },
    samples: holes.map((h, k) => ({ path: h.path, line: h.hole.line, base: base.outputs[k], tuned: t.outputs[k] })),
  };
}
