// Greedy decoding by full recompute: each new token runs the whole forward pass over
// prompt + tokens so far, then the LM head on the last position only. Simple and exact
// (it is the training forward); the KV-cache decoder of the completions work replaces it.
import type { GpuAdapter } from '../gpu/adapter.ts';
import { Transformer } from '../gpu/transformer.ts';
import { linearForward } from '../gpu/kernels/linear.ts';
import { readFloat32 } from '../gpu/buffers.ts';
import type { RunEngine } from './run.ts';

export interface GreedyOptions {
  maxNewTokens: number;
  /** Stop after the token for which this returns true (it is kept). */
  stop?: (id: number, generated: number[]) => boolean;
  signal?: AbortSignal;
}

export class GreedyDecoder {
  private tf: Transformer;
  private lastRow: GPUBuffer;
  private logits: GPUBuffer;

  constructor(
    private engine: RunEngine,
    adapter: GpuAdapter | undefined,
    readonly maxTokens: number,
  ) {
    const c = engine.model.config;
    this.tf = new Transformer(engine.runner, engine.memory, engine.model, adapter, { seqLen: maxTokens });
    this.lastRow = engine.memory.buffer('scratch', c.hiddenSize * 4, 'greedy.lastRow');
    this.logits = engine.memory.buffer('scratch', c.vocabSize * 4, 'greedy.logits');
  }

  async generate(prompt: number[], o: GreedyOptions): Promise<number[]> {
    const out: number[] = [];
    const ids = [...prompt];
    const c = this.engine.model.config;
    const device = this.engine.runner.device;
    // The transformer keeps the final normed hidden states of the last forward privately.
    const finalNormed = (this.tf as unknown as { finalNormed: GPUBuffer }).finalNormed;
    while (out.length < o.maxNewTokens && ids.length < this.maxTokens) {
      o.signal?.throwIfAborted();
      this.tf.setBatch(ids);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      this.tf.recordForward(pass);
      pass.end();
      enc.copyBufferToBuffer(finalNormed, (ids.length - 1) * c.hiddenSize * 4, this.lastRow, 0, c.hiddenSize * 4);
      device.queue.submit([enc.finish()]);
      await this.engine.runner.run((p) => linearForward(this.engine.runner, p, this.lastRow, this.engine.model.lmHead, undefined, this.logits, 1));
      const logits = await readFloat32(device, this.logits, c.vocabSize);
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
      out.push(best);
      ids.push(best);
      if (o.stop?.(best, out)) break;
    }
    return out;
  }

  destroy(): void {
    this.tf.destroy();
    this.engine.memory.release(this.lastRow);
    this.engine.memory.release(this.logits);
  }
}
