// A LoRA adapter living on the GPU: per layer and target module, A [r,in] and B [out,r]
// in f32, their gradients, and AdamW moments. Only these parameters are trained.
import type { HostAdapter, HostLora, ModelConfig, LoraConfig, LoraTarget } from '../model/types.ts';
export type { HostAdapter, HostLora } from '../model/types.ts';
import { Rng } from '../random.ts';
import type { GpuMemory } from './memory.ts';
import { readFloat32 } from './buffers.ts';

export interface LoraParam {
  target: LoraTarget;
  inF: number;
  outF: number;
  A: GPUBuffer;
  B: GPUBuffer;
  dA: GPUBuffer;
  dB: GPUBuffer;
  /** AdamW moments (absent for inference-only adapters). */
  mA?: GPUBuffer;
  vA?: GPUBuffer;
  mB?: GPUBuffer;
  vB?: GPUBuffer;
}

export { moduleShape as targetShape } from '../model/layout.ts';
import { moduleShape as targetShape } from '../model/layout.ts';

/**
 * PEFT's default init: A ~ kaiming_uniform(a=√5), i.e. U(−1/√in, 1/√in); B = 0, so a new
 * adapter leaves the model unchanged.
 */
export function initHostAdapter(config: ModelConfig, lora: LoraConfig, seed: number): HostAdapter {
  const rng = new Rng(seed);
  const layers: HostAdapter = [];
  for (let l = 0; l < config.numLayers; l++) {
    const layer: Partial<Record<LoraTarget, HostLora>> = {};
    for (const t of lora.targets) {
      const { inF, outF } = targetShape(config, t);
      const bound = 1 / Math.sqrt(inF);
      const A = new Float32Array(lora.r * inF);
      for (let i = 0; i < A.length; i++) A[i] = rng.uniform(-bound, bound);
      layer[t] = { A, B: new Float32Array(outF * lora.r), inF, outF };
    }
    layers.push(layer);
  }
  return layers;
}

export class GpuLora {
  readonly layers: Array<Partial<Record<LoraTarget, LoraParam>>> = [];
  /**
   * One adapter as trained, not a mix of several: the decoder serves it merged into the
   * weights (merged-weights.ts) where memory allows; anything else is served unmerged.
   */
  readonly single: boolean;

  constructor(
    readonly memory: GpuMemory,
    readonly config: LoraConfig,
    host: HostAdapter,
    opts: { trainable: boolean; single?: boolean },
  ) {
    this.single = opts.single ?? false;
    const device = memory.device;
    for (const hostLayer of host) {
      const layer: Partial<Record<LoraTarget, LoraParam>> = {};
      for (const t of config.targets) {
        const h = hostLayer[t];
        if (!h) continue;
        const aBytes = h.A.byteLength;
        const bBytes = h.B.byteLength;
        const p: LoraParam = {
          target: t,
          inF: h.inF,
          outF: h.outF,
          A: memory.buffer('lora', aBytes, `lora.${t}.A`),
          B: memory.buffer('lora', bBytes, `lora.${t}.B`),
          dA: memory.buffer(opts.trainable ? 'optimizer' : 'scratch', opts.trainable ? aBytes : 4, `lora.${t}.dA`),
          dB: memory.buffer(opts.trainable ? 'optimizer' : 'scratch', opts.trainable ? bBytes : 4, `lora.${t}.dB`),
        };
        if (opts.trainable) {
          p.mA = memory.buffer('optimizer', aBytes);
          p.vA = memory.buffer('optimizer', aBytes);
          p.mB = memory.buffer('optimizer', bBytes);
          p.vB = memory.buffer('optimizer', bBytes);
        }
        device.queue.writeBuffer(p.A, 0, h.A);
        device.queue.writeBuffer(p.B, 0, h.B);
        layer[t] = p;
      }
      this.layers.push(layer);
    }
  }

  get scale(): number {
    return this.config.alpha / this.config.r;
  }

  /** Frees every buffer of this adapter (parameters, gradients, moments); the model stays. */
  destroy(): void {
    for (const layer of this.layers)
      for (const p of Object.values(layer)) for (const b of [p.A, p.B, p.dA, p.dB, p.mA, p.vA, p.mB, p.vB]) if (b) this.memory.release(b);
    this.layers.length = 0;
  }

  /** Every trainable parameter with its gradient and moments, for the optimizer. */
  *params(): Generator<{ param: GPUBuffer; grad: GPUBuffer; m: GPUBuffer; v: GPUBuffer; n: number }> {
    for (const layer of this.layers)
      for (const p of Object.values(layer)) {
        if (!p.mA || !p.vA || !p.mB || !p.vB) continue;
        yield { param: p.A, grad: p.dA, m: p.mA, v: p.vA, n: p.inF * this.config.r };
        yield { param: p.B, grad: p.dB, m: p.mB, v: p.vB, n: p.outF * this.config.r };
      }
  }

  /** Copies A and B back to the host (for saving a PEFT adapter). */
  async toHost(): Promise<HostAdapter> {
    const out: HostAdapter = [];
    for (const layer of this.layers) {
      const h: Partial<Record<LoraTarget, HostLora>> = {};
      for (const [t, p] of Object.entries(layer) as Array<[LoraTarget, LoraParam]>) {
        const A = await readFloat32(this.memory.device, p.A, p.inF * this.config.r);
        const B = await readFloat32(this.memory.device, p.B, p.outF * this.config.r);
        h[t] = { A, B, inF: p.inF, outF: p.outF };
      }
      out.push(h);
    }
    return out;
  }

  /** Reads every gradient back (tests compare them with the CPU reference). */
  async gradsToHost(): Promise<Array<Partial<Record<LoraTarget, { dA: Float32Array; dB: Float32Array }>>>> {
    const out: Array<Partial<Record<LoraTarget, { dA: Float32Array; dB: Float32Array }>>> = [];
    for (const layer of this.layers) {
      const g: Partial<Record<LoraTarget, { dA: Float32Array; dB: Float32Array }>> = {};
      for (const [t, p] of Object.entries(layer) as Array<[LoraTarget, LoraParam]>) {
        g[t] = {
          dA: await readFloat32(this.memory.device, p.dA, p.inF * this.config.r),
          dB: await readFloat32(this.memory.device, p.dB, p.outF * this.config.r),
        };
      }
      out.push(g);
    }
    return out;
  }
}
