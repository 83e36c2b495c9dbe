// Decoding speed on a fixture model: time to first token (prefill of a prompt + the first
// token's logits read back) and decode tokens/s (one KV-cache step per token, greedy),
// with the base model and with a LoRA adapter on all seven modules.
import { GpuLora, initHostAdapter } from '../src/gpu/lora.ts';
import { Decoder } from '../src/gpu/decoder.ts';
import { generateTokens } from '../src/serve/generate.ts';
import { BENCH_LORA, benchModel } from './fixture.ts';
import type { KernelSelection } from '../src/gpu/kernel-versions.ts';

export interface DecodeBench {
  label: string;
  promptTokens: number;
  newTokens: number;
  ttftMs: number;
  decodeTokensPerS: number;
  /** Dispatches recorded for one decoded token. */
  dispatchesPerToken: number;
  /** Bind groups created for it (the rest were reused; before the cache, one per dispatch). */
  bindGroupsPerToken: number;
}

export async function benchDecode(
  device: GPUDevice,
  opts: { promptTokens: number; newTokens: number; reps: number; kernels?: KernelSelection },
): Promise<DecodeBench[]> {
  const { config, memory, model } = await benchModel(device);
  const decoder = new Decoder(memory, model, { contextLength: opts.promptTokens + opts.newTokens + 8, kernels: opts.kernels });
  const prompt = Array.from({ length: opts.promptTokens }, (_, i) => (i * 37 + 11) % config.vocabSize);
  const lora = BENCH_LORA;
  const host = initHostAdapter(config, lora, 1);
  for (const layer of host) for (const p of Object.values(layer)) p.B.fill(0.01);
  const out: DecodeBench[] = [];
  for (const [label, adapter] of [
    ['base model', undefined],
    ['with LoRA r=16 on 7 modules', new GpuLora(memory, lora, host, { trainable: false })],
  ] as const) {
    decoder.setAdapter(adapter);
    const params = { maxTokens: opts.newTokens, temperature: 0, topK: 0, topP: 1, stopTokens: [] };
    await generateTokens(decoder, prompt, params); // warm-up: pipelines
    const ttft: number[] = [];
    const tps: number[] = [];
    for (let r = 0; r < opts.reps; r++) {
      decoder.reset(); // no prefix reuse: a cold prompt each time
      const g = await generateTokens(decoder, prompt, params);
      ttft.push(g.prefillMs);
      tps.push(((g.tokens.length - 1) / g.decodeMs) * 1000);
    }
    const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const [d0, b0] = [decoder.runner.dispatches, decoder.runner.bindGroupsCreated];
    await decoder.step(prompt[0]);
    const dispatchesPerToken = decoder.runner.dispatches - d0;
    const bindGroupsPerToken = decoder.runner.bindGroupsCreated - b0;
    out.push({
      label,
      promptTokens: opts.promptTokens,
      newTokens: opts.newTokens,
      ttftMs: med(ttft),
      decodeTokensPerS: med(tps),
      dispatchesPerToken,
      bindGroupsPerToken,
    });
  }
  memory.destroyAll();
  return out;
}

export function decodeSummary(rows: DecodeBench[]): string {
  const fixture = 'fixture model 4 layers, hidden 256, vocab 1024 (bf16)';
  return [
    `Decoding (${fixture}; KV cache, greedy, prompt ${rows[0].promptTokens} tokens, ${rows[0].newTokens} new tokens, median):`,
    '',
    '| serving | time to first token (ms) | decode tokens/s | dispatches per token | bind groups created per token |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.ttftMs.toFixed(1)} | ${r.decodeTokensPerS.toFixed(1)} | ${r.dispatchesPerToken} | ${r.bindGroupsPerToken} |`,
    ),
  ].join('\n');
}
