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

/** Where each LoRA target sits inside a Hugging Face decoder layer. */
export const MODULE_PATH: Record<LoraTarget, string> = {
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
    use_rslora?: boolean;
    fan_in_fan_out?: boolean;
    rank_pattern?: Record<string, number> | null;
    alpha_pattern?: Record<string, number> | null;
    modules_to_save?: string[] | null;
  }>(files, ADAPTER_CONFIG);
  const bad = (msg: string, tensor?: string) =>
    new ModelError('BAD_ADAPTER', msg, { file: tensor ? ADAPTER_WEIGHTS : ADAPTER_CONFIG, tensor });
  if (cfg.peft_type !== 'LORA') throw bad(`${ADAPTER_CONFIG}: peft_type is ${cfg.peft_type}; only LoRA adapters can be loaded.`);
  if (cfg.use_dora) throw bad(`${ADAPTER_CONFIG}: DoRA adapters are not supported.`);
  const r = cfg.r;
  if (!r || !Number.isInteger(r) || r < 1) throw bad(`${ADAPTER_CONFIG}: r must be a positive integer.`);
  // Options that change what the weights mean: implemented (use_rslora) or refused by name,
  // never ignored, since ignoring them gives a silently different model.
  const alpha = cfg.lora_alpha ?? r;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha))
    throw bad(`${ADAPTER_CONFIG}: lora_alpha is ${typeof alpha === 'number' ? alpha : JSON.stringify(alpha)}; it must be a finite number.`);
  const dropout = cfg.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    throw bad(`${ADAPTER_CONFIG}: lora_dropout is ${JSON.stringify(cfg.lora_dropout)}; it must be a number from 0 to below 1.`);
  if (cfg.fan_in_fan_out)
    throw bad(
      `${ADAPTER_CONFIG}: fan_in_fan_out is true, which is for GPT-2-style Conv1D layers; Llama-family models use Linear layers. Export the adapter again with fan_in_fan_out false.`,
    );
  for (const key of ['rank_pattern', 'alpha_pattern'] as const) {
    const p = cfg[key];
    if (p && typeof p === 'object' && Object.keys(p).length > 0)
      throw bad(
        `${ADAPTER_CONFIG}: ${key} gives some modules their own ${key === 'rank_pattern' ? 'rank' : 'alpha'} (${Object.keys(p).slice(0, 3).join(', ')}); Homecoder loads adapters with one r and lora_alpha for every module.`,
      );
  }
  if (Array.isArray(cfg.modules_to_save) && cfg.modules_to_save.length > 0)
    throw bad(
      `${ADAPTER_CONFIG}: modules_to_save lists ${cfg.modules_to_save.join(', ')}: the adapter carries fully trained copies of those modules, which Homecoder cannot load. Use an adapter with LoRA weights only.`,
    );
  const src = await files.open(ADAPTER_WEIGHTS);
  if (!src) throw new ModelError('MISSING_FILE', `${ADAPTER_WEIGHTS} is missing from ${files.label}.`, { file: ADAPTER_WEIGHTS });
  const header = await readSafetensorsHeader(src);
  // PEFT names carry an optional adapter name (".default") and sometimes lose the prefix.
  const byKey = new Map<string, TensorInfo>();
  const unused = new Set(header.tensors.keys());
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
      const A = toF32(await readTensorBytes(src, a), a.dtype);
      const B = toF32(await readTensorBytes(src, b), b.dtype);
      for (const [info, v] of [
        [a, A],
        [b, B],
      ] as const)
        if (!v.every(Number.isFinite))
          throw bad(
            `${ADAPTER_WEIGHTS}: ${info.name} holds NaN or infinite values; the adapter is damaged. Train or download it again.`,
            info.name,
          );
      layer[t] = { A, B, inF, outF };
      unused.delete(a.name);
      unused.delete(b.name);
      targets.add(t);
    }
    layers.push(layer);
  }
  if (targets.size === 0) throw bad(`${ADAPTER_WEIGHTS} holds no LoRA weights for this model's layers.`);
  if (unused.size > 0) {
    const names = [...unused];
    throw bad(
      `${ADAPTER_WEIGHTS}: ${names.length} tensor${names.length > 1 ? 's are' : ' is'} not LoRA weights of this model's ${model.numLayers} layers (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}). Was it trained on another base model, or with modules Homecoder does not adapt?`,
      names[0],
    );
  }
  return {
    // rsLoRA scales by alpha/√r; the engine scales by alpha/r, so alpha·√r gives the same update.
    lora: {
      r,
      alpha: cfg.use_rslora ? alpha * Math.sqrt(r) : alpha,
      dropout,
      targets: LORA_TARGETS.filter((t) => targets.has(t)),
    },
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

/**
 * A warning when an adapter names another base model than the one it is loaded on (the
 * shapes match, so it loads, but its completions would be poor). Compares the last path
 * segment, case-insensitively: "Qwen/Qwen2.5-Coder-0.5B" and a folder of that name agree.
 */
export function baseModelWarning(adapterBase: string, model: string, adapterLabel = 'The adapter'): string | undefined {
  if (!adapterBase || !model || modelName(adapterBase) === modelName(model)) return undefined;
  return `${adapterLabel} was trained on ${adapterBase}, not ${model}; it loads (the shapes match) but its completions may be poor. Use it with the model it was trained on.`;
}

/** A model's bare name from a hub id, a folder path or a stored id ("folder:x", "Org--Name@rev"). */
function modelName(s: string): string {
  const last =
    s
      .replace(/^folder:/, '')
      .replace(/[\\/]+$/, '')
      .split(/[\\/]|--/)
      .at(-1) ?? '';
  return last.replace(/@.*$/, '').toLowerCase();
}
