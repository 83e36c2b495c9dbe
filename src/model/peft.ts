// LoRA adapters in Hugging Face PEFT's format, so they load in PEFT and vLLM and back
// here: adapter_config.json + adapter_model.safetensors with PEFT's tensor names
// (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight [r, in], lora_B [out, r]).
import { ModelError } from './errors.ts';
import { readJson, type ModelFiles } from './storage/files.ts';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors, type TensorInfo, type TensorToWrite } from './safetensors.ts';
import { moduleShape } from './layout.ts';
import { bf16ToFloat, f16ToFloat } from './dtype.ts';
import { LORA_TARGETS, type HostAdapter, type LoraConfig, type LoraTarget, type ModelConfig } from './types.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

const MODULE_PATH: Record<LoraTarget, string> = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
};

export function peftTensorName(layer: number, target: LoraTarget, which: 'A' | 'B'): string {
  return `base_model.model.model.layers.${layer}.${MODULE_PATH[target]}.lora_${which}.weight`;
}

export interface PeftAdapter {
  lora: LoraConfig;
  baseModel: string;
  layers: HostAdapter;
}

export function writePeftAdapter(a: PeftAdapter): Map<string, Uint8Array> {
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: a.baseModel,
    r: a.lora.r,
    lora_alpha: a.lora.alpha,
    lora_dropout: a.lora.dropout,
    target_modules: a.lora.targets,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    use_rslora: false,
    use_dora: false,
    revision: null,
  };
  const tensors: TensorToWrite[] = [];
  a.layers.forEach((layer, l) => {
    for (const t of LORA_TARGETS) {
      const p = layer[t];
      if (!p) continue;
      tensors.push({
        name: peftTensorName(l, t, 'A'),
        dtype: 'F32',
        shape: [a.lora.r, p.inF],
        data: new Uint8Array(p.A.buffer, p.A.byteOffset, p.A.byteLength),
      });
      tensors.push({
        name: peftTensorName(l, t, 'B'),
        dtype: 'F32',
        shape: [p.outF, a.lora.r],
        data: new Uint8Array(p.B.buffer, p.B.byteOffset, p.B.byteLength),
      });
    }
  });
  return new Map([
    [ADAPTER_CONFIG, new TextEncoder().encode(JSON.stringify(config, null, 2))],
    [ADAPTER_WEIGHTS, writeSafetensors(tensors, { format: 'pt' })],
  ]);
}

/** Reads a PEFT LoRA adapter and checks it against the model it is meant for. */
export async function readPeftAdapter(files: ModelFiles, model: ModelConfig): Promise<PeftAdapter> {
  const cfg = await readJson<{
    peft_type?: string;
    r?: number;
    lora_alpha?: number;
    lora_dropout?: number;
    target_modules?: string[] | string;
    base_model_name_or_path?: string;
    use_dora?: boolean;
  }>(files, ADAPTER_CONFIG);
  const bad = (msg: string, tensor?: string) =>
    new ModelError('BAD_ADAPTER', msg, { file: tensor ? ADAPTER_WEIGHTS : ADAPTER_CONFIG, tensor });
  if (cfg.peft_type !== 'LORA') throw bad(`${ADAPTER_CONFIG}: peft_type is ${cfg.peft_type}; only LoRA adapters can be loaded.`);
  if (cfg.use_dora) throw bad(`${ADAPTER_CONFIG}: DoRA adapters are not supported.`);
  const r = cfg.r;
  if (!r || !Number.isInteger(r) || r < 1) throw bad(`${ADAPTER_CONFIG}: r must be a positive integer.`);
  const src = await files.open(ADAPTER_WEIGHTS);
  if (!src) throw new ModelError('MISSING_FILE', `${ADAPTER_WEIGHTS} is missing from ${files.label}.`, { file: ADAPTER_WEIGHTS });
  const header = await readSafetensorsHeader(src);
  // PEFT names carry an optional adapter name (".default") and sometimes lose the prefix.
  const byKey = new Map<string, TensorInfo>();
  for (const info of header.tensors.values()) {
    const m = /layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.lora_([AB])(?:\.\w+)?\.weight$/.exec(info.name);
    if (m) byKey.set(`${m[1]}.${m[3]}.${m[4]}`, info);
  }
  const targets = new Set<LoraTarget>();
  const layers: HostAdapter = [];
  for (let l = 0; l < model.numLayers; l++) {
    const layer: HostAdapter[number] = {};
    for (const t of LORA_TARGETS) {
      const a = byKey.get(`${l}.${t}.A`);
      const b = byKey.get(`${l}.${t}.B`);
      if (!a && !b) continue;
      if (!a || !b)
        throw bad(`${ADAPTER_WEIGHTS}: layer ${l} ${t} has lora_${a ? 'A' : 'B'} but not lora_${a ? 'B' : 'A'}.`, (a ?? b)!.name);
      const { inF, outF } = moduleShape(model, t);
      if (a.shape[0] !== r || a.shape[1] !== inF)
        throw bad(
          `${ADAPTER_WEIGHTS}: ${a.name} has shape [${a.shape}], expected [${r}, ${inF}] for this model. Was it trained on another base model?`,
          a.name,
        );
      if (b.shape[0] !== outF || b.shape[1] !== r)
        throw bad(
          `${ADAPTER_WEIGHTS}: ${b.name} has shape [${b.shape}], expected [${outF}, ${r}] for this model. Was it trained on another base model?`,
          b.name,
        );
      layer[t] = { A: toF32(await readTensorBytes(src, a), a.dtype), B: toF32(await readTensorBytes(src, b), b.dtype), inF, outF };
      targets.add(t);
    }
    layers.push(layer);
  }
  if (targets.size === 0) throw bad(`${ADAPTER_WEIGHTS} holds no LoRA weights for this model's layers.`);
  return {
    lora: { r, alpha: cfg.lora_alpha ?? r, dropout: cfg.lora_dropout ?? 0, targets: LORA_TARGETS.filter((t) => targets.has(t)) },
    baseModel: cfg.base_model_name_or_path ?? '',
    layers,
  };
}

function toF32(raw: Uint8Array, dtype: string): Float32Array {
  const copy = raw.slice();
  if (dtype === 'F32') return new Float32Array(copy.buffer);
  const bits = new Uint16Array(copy.buffer);
  return Float32Array.from(bits, dtype === 'BF16' ? bf16ToFloat : f16ToFloat);
}
