// The engine's own greedy decode in the test process: what `homecoder serve` must answer.
import type { Decoder } from '../../src/gpu/decoder.ts';
import { argmax } from '../../src/serve/sampling.ts';

/** Up to `n` token ids after `ids`, argmax each step, stopping before any of `stops`. */
export async function greedyIds(decoder: Decoder, ids: number[], n: number, stops: Set<number>): Promise<number[]> {
  const out: number[] = [];
  let { logits } = await decoder.prefill(ids);
  for (let i = 0; i < n; i++) {
    const id = argmax(logits);
    if (stops.has(id)) break;
    out.push(id);
    logits = await decoder.step(id);
  }
  return out;
}
