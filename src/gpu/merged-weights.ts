// The decoder's merged weights: for one served adapter, a 16-bit copy of each projection it
// targets holding W + s·B·A (kernels/lora-merge.ts), so decoding reads one weight per
// projection and runs no LoRA dispatches. The base weights stay where they are, untouched
// (training, `loss` and the tuner share them), and each swap re-merges from them into the
// copies, which are kept for the next swap (allocated once per layer and target).
import type { LoraTarget } from '../model/types.ts';
import type { GpuLora, LoraParam } from './lora.ts';
import type { GpuMemory } from './memory.ts';
import type { GpuLayer, GpuModel } from './model.ts';
import type { KernelRunner } from './kernel.ts';
import { type WeightTensor, weightBytes } from './weights.ts';
import { loraMerge } from './kernels/lora-merge.ts';

const FIELD: Record<LoraTarget, keyof Omit<GpuLayer, 'inputNorm' | 'postNorm'>> = {
  q_proj: 'q',
  k_proj: 'k',
  v_proj: 'v',
  o_proj: 'o',
  gate_proj: 'gate',
  up_proj: 'up',
  down_proj: 'down',
};

const key = (l: number, t: LoraTarget) => `${l}.${t}`;

export class MergedWeights {
  private copies = new Map<string, WeightTensor>();
  /** The copies that hold the current merge (the adapter's targets); the rest are stale. */
  private active = new Set<string>();

  constructor(
    readonly memory: GpuMemory,
    readonly model: GpuModel,
  ) {}

  private *targets(lora: GpuLora): Generator<{ l: number; t: LoraTarget; p: LoraParam; base: WeightTensor }> {
    for (const [l, layer] of lora.layers.entries())
      for (const [t, p] of Object.entries(layer) as Array<[LoraTarget, LoraParam]>)
        yield { l, t, p, base: this.model.layers[l][FIELD[t]].weight };
  }

  /** Bytes of the copies `lora` needs that are not allocated yet. */
  bytesToAdd(lora: GpuLora): number {
    let n = 0;
    for (const { l, t, base } of this.targets(lora)) if (!this.copies.has(key(l, t))) n += weightBytes(base);
    return n;
  }

  /** Bytes the copies hold now. */
  get bytes(): number {
    let n = 0;
    for (const w of this.copies.values()) n += weightBytes(w);
    return n;
  }

  /**
   * Merges `lora` into the copies (allocating those missing) and submits the work; returns
   * why not when the copies could not be allocated (out of GPU memory: nothing is kept then).
   */
  async merge(runner: KernelRunner, lora: GpuLora): Promise<string | undefined> {
    const device = this.memory.device;
    this.active.clear();
    device.pushErrorScope('out-of-memory');
    for (const { l, t, base } of this.targets(lora)) {
      if (this.copies.has(key(l, t))) continue;
      const copy: WeightTensor = {
        ...base,
        name: `${base.name} (merged)`,
        chunks: base.chunks.map((c) => ({
          ...c,
          buffer: device.createBuffer({
            label: `${base.name}[${c.rowStart}:${c.rowStart + c.rows}] (merged)`,
            size: c.buffer.size,
            usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, // COPY_SRC: tests read them back
          }),
        })),
      };
      for (const c of copy.chunks) this.memory.track(c.buffer, 'weights');
      this.copies.set(key(l, t), copy);
    }
    const oom = await device.popErrorScope();
    if (oom) {
      this.destroy();
      return oom.message || 'out of GPU memory';
    }
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const { l, t, p, base } of this.targets(lora)) {
      loraMerge(runner, pass, base, this.copies.get(key(l, t))!, p.A, p.B, lora.config.r, lora.scale);
      this.active.add(key(l, t));
    }
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    runner.releaseUniforms();
    return undefined;
  }

  /** The copy of layer `l`'s `target` (merged or stale), for tests. */
  copy(l: number, target: LoraTarget): WeightTensor | undefined {
    return this.copies.get(key(l, target));
  }

  /** The merged weight of layer `l`'s `target`, or undefined where the served adapter has none. */
  weight(l: number, target: LoraTarget): WeightTensor | undefined {
    return this.active.has(key(l, target)) ? this.copies.get(key(l, target)) : undefined;
  }

  /** Serves the base weights again; the copies stay for the next merge. */
  clear(): void {
    this.active.clear();
  }

  /** Frees the copies. */
  destroy(): void {
    for (const w of this.copies.values()) for (const c of w.chunks) this.memory.release(c.buffer);
    this.copies.clear();
    this.active.clear();
  }
}
