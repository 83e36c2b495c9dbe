// Greedy decoding for the evaluation (FIM exact match): the KV-cache decoder of the
// completions engine, argmax at every step.
import type { GpuLora } from '../gpu/lora.ts';
import { Decoder } from '../gpu/decoder.ts';
import type { RunModel } from './run.ts';

export interface GreedyOptions {
  maxNewTokens: number;
  /** Stop after the token for which this returns true (it is kept). */
  stop?: (id: number, generated: number[]) => boolean;
  signal?: AbortSignal;
}

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best;
}

export class GreedyDecoder {
  private decoder: Decoder;

  constructor(
    engine: RunModel,
    adapter: GpuLora | undefined,
    readonly maxTokens: number,
  ) {
    this.decoder = new Decoder(engine.memory, engine.model, { contextLength: maxTokens, kernels: engine.runner.kernels });
    this.decoder.setAdapter(adapter);
  }

  async generate(prompt: number[], o: GreedyOptions): Promise<number[]> {
    const out: number[] = [];
    if (prompt.length >= this.maxTokens) return out;
    let logits = (await this.decoder.prefill(prompt, o.signal)).logits;
    for (;;) {
      const best = argmax(logits);
      out.push(best);
      if (o.stop?.(best, out) || out.length >= o.maxNewTokens || prompt.length + out.length >= this.maxTokens) break;
      logits = await this.decoder.step(best, o.signal);
    }
    return out;
  }

  destroy(): void {
    this.decoder.destroy();
  }
}
