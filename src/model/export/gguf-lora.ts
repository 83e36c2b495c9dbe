// A LoRA adapter as llama.cpp's GGUF adapter (what `llama-server --lora` and Ollama's
// ADAPTER load), as convert_lora_to_gguf.py writes it: general.type "adapter",
// adapter.type "lora", adapter.lora.alpha; per module blk.N.<name>.weight.lora_a with ggml
// dims [in, r] (PEFT's A [r, in]) and .lora_b [r, out] (PEFT's B [out, r]), in F32.
// llama.cpp scales by alpha / r with r read from lora_b. For Llama, B's rows of q and k
// are permuted as the base's rows are.
import { MODULE_PATH } from '../peft.ts';
import { LORA_TARGETS, type ModelConfig } from '../types.ts';
import { f32, GGML_TYPE, str, type GgufTensor, type GgufValue } from './gguf.ts';
import { ggufModelMetadata, ggufTensorName, permuteRope, ropePermuteHeads } from './gguf-model.ts';
import { checkAdapterFits, type MergeAdapter } from './merge.ts';
import { encodeF32 } from './quantize.ts';

export function ggufLoraPlan(
  c: ModelConfig,
  adapter: MergeAdapter,
  name: string,
): { metadata: Map<string, GgufValue>; tensors: GgufTensor[] } {
  checkAdapterFits(c, adapter);
  const arch = ggufModelMetadata(c, name);
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', arch.get('general.architecture')!],
    ['general.type', str('adapter')],
    ['general.name', str(name)],
    ['adapter.type', str('lora')],
    ['adapter.lora.alpha', f32(adapter.lora.alpha)],
  ]);
  const r = adapter.lora.r;
  const tensors: GgufTensor[] = [];
  adapter.layers.forEach((layer, l) => {
    for (const t of LORA_TARGETS) {
      const p = layer[t];
      if (!p) continue;
      const hf = `model.layers.${l}.${MODULE_PATH[t]}.weight`;
      const base = ggufTensorName(hf);
      const heads = ropePermuteHeads(c, hf);
      tensors.push({ name: `${base}.lora_a`, dims: [p.inF, r], type: GGML_TYPE.F32, data: async () => encodeF32(p.A) });
      tensors.push({
        name: `${base}.lora_b`,
        dims: [r, p.outF],
        type: GGML_TYPE.F32,
        data: async () => encodeF32(heads ? permuteRope(p.B, heads, r) : p.B),
      });
    }
  });
  return { metadata, tensors };
}
