// Greedy decoding for the evaluation (FIM exact match): the KV-cache decoder of the
// completions engine, argmax at every step (on the GPU: one id read back per token).
import type { GpuLora } from '../gpu/lora.ts';
import { Decoder } from '../gpu/decoder.ts';
import type { RunModel } from './run.ts';

export interface GreedyOptions {
  maxNewTokens: number;
  /** Stop after the token for which this returns true (it is kept). */
  stop?: (id: number, generated: number[]) => boolean;
  signal?: AbortSignal;
}

const GREEDY = { k: 1, total: false, temperature: 0 };

export class GreedyDecoder {
  private decoder: Decoder;

  constructor(
    engine: RunModel,
    adapter: GpuLora | undefined,
    readonly maxTokens: number,
  ) {
    // An f32 KV cache: the evaluation's score should not depend on whether the GPU has shader-f16.
    this.decoder = new Decoder(engine.memory, engine.model, { contextLength: maxTokens, kvCache: 'f32', kernels: engine.runner.kernels });
    this.decoder.setAdapter(adapter);
  }

  async generate(prompt: number[], o: GreedyOptions): Promise<number[]> {
    const out: number[] = [];
    if (prompt.length >= this.maxTokens) return out;
    let best = (await this.decoder.prefillSelect(prompt, GREEDY, o.signal)).candidates.ids[0];
    for (;;) {
      out.push(best);
      if (o.stop?.(best, out) || out.length >= o.maxNewTokens || prompt.length + out.length >= this.maxTokens) break;
      best = (await this.decoder.stepSelect(best, GREEDY, o.signal)).ids[0];
    }
    return out;
  }

  destroy(): void {
    this.decoder.destroy();
  }
}
