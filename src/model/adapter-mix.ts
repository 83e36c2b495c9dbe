// A weighted combination of LoRA adapters as ONE adapter, so the engine serves a mix with
// the same kernels and switching never touches the base weights. Two ways, as PEFT's
// `add_weighted_adapter`:
// - 'cat' (default): exactly ΔW = Σ wᵢ·sᵢ·Bᵢ·Aᵢ. A stacks the Aᵢ (rank Σ rᵢ), B stacks the
//   wᵢ·sᵢ·Bᵢ side by side; scale 1.
// - 'linear': A = Σ √wᵢ·sᵢ·Aᵢ, B = Σ √wᵢ·Bᵢ (equal ranks; has cross terms between adapters,
//   exactly what PEFT computes); scale 1. A negative weight keeps its sign on A.
// sᵢ = alphaᵢ/rᵢ is each adapter's own scale.
import { HomecoderError, registerError } from '../errors.ts';
import { LORA_TARGETS, type HostAdapter, type LoraConfig, type LoraTarget, type ModelConfig } from './types.ts';
import { moduleShape } from './layout.ts';

export interface WeightedAdapter {
  lora: LoraConfig;
  layers: HostAdapter;
  weight: number;
}

export type Combination = 'cat' | 'linear';

export class AdapterMixError extends HomecoderError<'BAD_MIX'> {
  constructor(message: string) {
    super('BAD_MIX', message);
    this.name = 'AdapterMixError';
  }
}
registerError('AdapterMixError', AdapterMixError);

export function mixAdapters(
  config: ModelConfig,
  parts: WeightedAdapter[],
  combination: Combination = 'cat',
): { lora: LoraConfig; layers: HostAdapter } {
  const used = parts.filter((p) => p.weight !== 0);
  if (used.length === 0) throw new AdapterMixError('Give at least one adapter a non-zero weight (or serve the base model).');
  for (const p of used) if (!Number.isFinite(p.weight)) throw new AdapterMixError(`Adapter weights must be numbers, got ${p.weight}.`);
  const targets = LORA_TARGETS.filter((t) => used.some((p) => p.lora.targets.includes(t)));
  if (combination === 'linear' && new Set(used.map((p) => p.lora.r)).size > 1) {
    throw new AdapterMixError(
      `The 'linear' combination needs adapters of one rank (got ${used.map((p) => p.lora.r).join(', ')}); use 'cat'.`,
    );
  }
  const R = combination === 'cat' ? used.reduce((s, p) => s + p.lora.r, 0) : used[0].lora.r;
  const layers: HostAdapter = [];
  for (let l = 0; l < config.numLayers; l++) {
    const layer: Partial<Record<LoraTarget, HostAdapter[number][LoraTarget]>> = {};
    for (const t of targets) {
      const { inF, outF } = moduleShape(config, t);
      const A = new Float32Array(R * inF);
      const B = new Float32Array(outF * R);
      let off = 0;
      for (const p of used) {
        const r = p.lora.r;
        const s = p.lora.alpha / r;
        const src = p.layers[l]?.[t];
        if (src) {
          if (combination === 'cat') {
            A.set(src.A, off * inF);
            for (let o = 0; o < outF; o++) for (let j = 0; j < r; j++) B[o * R + off + j] = p.weight * s * src.B[o * r + j];
          } else {
            const root = Math.sqrt(Math.abs(p.weight));
            const a = Math.sign(p.weight) * root * s;
            for (let i = 0; i < A.length; i++) A[i] += a * src.A[i];
            for (let i = 0; i < B.length; i++) B[i] += root * src.B[i];
          }
        }
        if (combination === 'cat') off += r;
      }
      layer[t] = { A, B, inF, outF };
    }
    layers.push(layer);
  }
  return { lora: { r: R, alpha: R, dropout: 0, targets }, layers };
}
