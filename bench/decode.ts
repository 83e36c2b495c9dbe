// Decoding speed on a fixture model: time to first token (prefill of a prompt + the first
// token's logits read back) and decode tokens/s (one KV-cache step per token, greedy),
// with the base model and with a LoRA adapter on all seven modules, unmerged (as a mix is
// served: LoRA products per projection) and merged into the weights (as one adapter is; the
// merge's time is a hot swap's cost); bytes read back and dispatches per decoded token. One row
// reads the whole logits and samples on the CPU, as the decoder did before sampling moved to the GPU.
import { GpuLora, initHostAdapter } from '../src/gpu/lora.ts';
import { Decoder } from '../src/gpu/decoder.ts';
import { generateTokens } from '../src/serve/generate.ts';
import { argmax } from '../src/serve/sampling.ts';
import { BENCH_LORA, benchModel } from './fixture.ts';
import type { KernelSelection } from '../src/gpu/kernel-versions.ts';
import type { GpuMemory } from '../src/gpu/memory.ts';
import type { GpuModel } from '../src/gpu/model.ts';
import type { ModelConfig } from '../src/model/types.ts';

export interface DecodeBench {
  label: string;
  promptTokens: number;
  newTokens: number;
  ttftMs: number;
  decodeTokensPerS: number;
  kvCache: string;
  bytesPerToken: number;
  dispatchesPerToken: number;
  /** Bind groups created for one decoded token (the rest were reused; before the cache, one per dispatch). */
  bindGroupsPerToken?: number;
  /** Milliseconds merging the adapter into the weights took (a hot swap), for the merged row. */
  mergeMs?: number;
}

/** `loaded`: decode with this model (the real-size bench's) and leave it loaded; else the fixture model. */
export async function benchDecode(
  device: GPUDevice,
  opts: { promptTokens: number; newTokens: number; reps: number; kernels?: KernelSelection },
  loaded?: { config: ModelConfig; memory: GpuMemory; model: GpuModel },
): Promise<DecodeBench[]> {
  const { config, memory, model } = loaded ?? (await benchModel(device));
  const decoder = new Decoder(memory, model, { contextLength: opts.promptTokens + opts.newTokens + 8, kernels: opts.kernels });
  const prompt = Array.from({ length: opts.promptTokens }, (_, i) => (i * 37 + 11) % config.vocabSize);
  const lora = BENCH_LORA;
  const host = initHostAdapter(config, lora, 1);
  for (const layer of host) for (const p of Object.values(layer)) p.B.fill(0.01);
  const out: DecodeBench[] = [];
  const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const params = { maxTokens: opts.newTokens, temperature: 0, topK: 0, topP: 1, stopTokens: [] };
  const gpuLora = new GpuLora(memory, lora, host, { trainable: false });
  const mergedLora = new GpuLora(memory, lora, host, { trainable: false, single: true });
  for (const [label, adapter] of [
    ['base model', undefined],
    ['with LoRA r=16 on 7 modules', gpuLora],
    ['with LoRA r=16 on 7 modules, merged into the weights', mergedLora],
  ] as const) {
    decoder.setAdapter(adapter);
    await generateTokens(decoder, prompt, params); // warm-up: pipelines (and the merge)
    let mergeMs: number | undefined;
    if (adapter?.single) {
      decoder.setAdapter(adapter); // a hot swap back to it: merged again, now timed warm
      await decoder.prefill(prompt.slice(0, 1));
      mergeMs = decoder.lastMergeMs;
    }
    const ttft: number[] = [];
    const tps: number[] = [];
    let bytes = 0;
    for (let r = 0; r < opts.reps; r++) {
      decoder.reset(); // no prefix reuse: a cold prompt each time
      const g = await generateTokens(decoder, prompt, params);
      ttft.push(g.prefillMs);
      tps.push(((g.tokens.length - 1) / g.decodeMs) * 1000);
      bytes = g.bytesReadBack / g.tokens.length;
    }
    const b0 = decoder.runner.bindGroupsCreated;
    await decoder.step(prompt[0]);
    const bindGroupsPerToken = decoder.runner.bindGroupsCreated - b0;
    const row = { promptTokens: opts.promptTokens, newTokens: opts.newTokens, kvCache: decoder.kvType };
    out.push({
      label,
      ...row,
      ttftMs: med(ttft),
      decodeTokensPerS: med(tps),
      bytesPerToken: bytes,
      dispatchesPerToken: decoder.lastDispatches,
      bindGroupsPerToken,
      mergeMs,
    });
  }
  // As before GPU sampling: the whole logits read back each token, argmax on the CPU.
  decoder.setAdapter(undefined);
  const tps: number[] = [];
  const ttft: number[] = [];
  for (let r = 0; r < opts.reps; r++) {
    decoder.reset();
    const t0 = performance.now();
    let logits = (await decoder.prefill(prompt)).logits;
    const t1 = performance.now();
    for (let i = 1; i < opts.newTokens; i++) logits = await decoder.step(argmax(logits));
    ttft.push(t1 - t0);
    tps.push(((opts.newTokens - 1) / (performance.now() - t1)) * 1000);
  }
  out.push({
    label: 'base model, whole logits read back (CPU argmax)',
    promptTokens: opts.promptTokens,
    newTokens: opts.newTokens,
    kvCache: decoder.kvType,
    ttftMs: med(ttft),
    decodeTokensPerS: med(tps),
    bytesPerToken: config.vocabSize * 4,
    dispatchesPerToken: decoder.lastDispatches,
  });
  if (loaded) {
    decoder.destroy();
    gpuLora.destroy();
    mergedLora.destroy();
  } else memory.destroyAll();
  return out;
}

export function decodeSummary(rows: DecodeBench[], fixture = 'fixture model 4 layers, hidden 256, vocab 1024 (bf16)'): string {
  return [
    `Decoding (${fixture}; KV cache, greedy, prompt ${rows[0].promptTokens} tokens, ${rows[0].newTokens} new tokens, median):`,
    '',
    '| serving | KV cache | time to first token (ms) | decode tokens/s | bytes read back per token | dispatches per token | bind groups created per token | merge (hot swap) ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.kvCache} | ${r.ttftMs.toFixed(1)} | ${r.decodeTokensPerS.toFixed(1)} | ${r.bytesPerToken} | ${r.dispatchesPerToken} | ${r.bindGroupsPerToken ?? '–'} | ${r.mergeMs?.toFixed(1) ?? '–'} |`,
    ),
  ].join('\n');
}
