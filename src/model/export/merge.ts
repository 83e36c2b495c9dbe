// The weights an export writes: the base model's, with a LoRA adapter (or a weighted mix,
// already combined into one by mixAdapters) merged in, W' = W + (alpha/r)·B·A, computed in
// f32 from the stored 16-bit values. One tensor at a time, on demand.
import { bf16ToFloat, f16ToFloat } from '../dtype.ts';
import type { OpenModel } from '../loader.ts';
import { moduleShape } from '../layout.ts';
import { LAYER_TENSORS, type HostAdapter, type LoraConfig, type LoraTarget, type ModelConfig, type WeightDtype } from '../types.ts';
import { ExportError } from './errors.ts';

export interface MergeAdapter {
  lora: LoraConfig;
  layers: HostAdapter;
}

export interface ExportWeights {
  config: ModelConfig;
  /** The base's 16-bit type: the merged HF folder is written in it. */
  dtype: WeightDtype;
  /** HF tensor names, in checkpoint order. */
  names: string[];
  /** Values of a tensor (merged when an adapter is given) and its HF shape. */
  tensor(name: string): Promise<{ shape: number[]; values: Float32Array }>;
}

const TARGET_OF = new Map<string, LoraTarget>(
  (['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const).map((t) => [
    `${LAYER_TENSORS[t.replace('_proj', '') as 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down']}.weight`,
    t,
  ]),
);

/** Checks an adapter fits a model (its layers and every module's shape). */
export function checkAdapterFits(config: ModelConfig, adapter: MergeAdapter, label = 'The adapter'): void {
  const mismatch = (why: string) =>
    new ExportError(
      'EXPORT_ADAPTER_MISMATCH',
      `${label} does not fit ${config.architecture} with ${config.numLayers} layers (hidden ${config.hiddenSize}): ${why}. Export it with the base model it was trained on.`,
    );
  if (adapter.layers.length !== config.numLayers) throw mismatch(`it has ${adapter.layers.length} layers`);
  adapter.layers.forEach((layer, l) => {
    for (const [t, p] of Object.entries(layer) as Array<[LoraTarget, NonNullable<HostAdapter[number][LoraTarget]>]>) {
      const { inF, outF } = moduleShape(config, t);
      if (p.inF !== inF || p.outF !== outF || p.A.length !== adapter.lora.r * inF || p.B.length !== outF * adapter.lora.r)
        throw mismatch(`layer ${l} ${t} is [${p.outF}×${p.inF}], the model's is [${outF}×${inF}]`);
    }
  });
}

export function exportWeights(model: OpenModel, adapter?: MergeAdapter): ExportWeights {
  const config = model.config;
  if (adapter) checkAdapterFits(config, adapter);
  const toFloat = model.dtype === 'bf16' ? bf16ToFloat : f16ToFloat;
  return {
    config,
    dtype: model.dtype,
    names: model.tensorNames,
    async tensor(name) {
      const t = await model.tensor(name);
      const values = new Float32Array(t.data.length);
      for (let i = 0; i < values.length; i++) values[i] = toFloat(t.data[i]);
      const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
      const target = m ? TARGET_OF.get(m[2]) : undefined;
      const p = target && adapter?.layers[Number(m![1])]?.[target];
      if (p) addLora(values, p.A, p.B, p.inF, p.outF, adapter!.lora.r, adapter!.lora.alpha / adapter!.lora.r);
      return { shape: t.shape, values };
    },
  };
}

/** W[o, i] += scale · Σ_j B[o, j]·A[j, i] (W [out, in], A [r, in], B [out, r]). */
export function addLora(W: Float32Array, A: Float32Array, B: Float32Array, inF: number, outF: number, r: number, scale: number): void {
  const row = new Float64Array(inF);
  for (let o = 0; o < outF; o++) {
    row.fill(0);
    for (let j = 0; j < r; j++) {
      const b = B[o * r + j];
      if (b === 0) continue;
      const a = j * inF;
      for (let i = 0; i < inF; i++) row[i] += b * A[a + i];
    }
    const w = o * inF;
    for (let i = 0; i < inF; i++) W[w + i] += scale * row[i];
  }
}
