// A merged model as a Hugging Face folder: config.json, the base's tokenizer files,
// model-0000i-of-0000n.safetensors shards (with model.safetensors.index.json) in the base's
// dtype, and a model card naming the base, the adapters and their weights. Every shard's
// header is known from the config, so it is written first and then each tensor streamed.
import { toHfConfig } from '../config.ts';
import { floatToBf16, floatToF16 } from '../dtype.ts';
import { elementCount, expectedTensors } from '../layout.ts';
import type { ExportWeights } from './merge.ts';
import type { ExportProgress, SinkFactory } from './sink.ts';

/** Default shard size: Transformers' save_pretrained default is 5 GB; 2 GiB keeps each file under browser limits. */
export const DEFAULT_SHARD_BYTES = 2 * 1024 ** 3;

/** Files copied from the base model folder when present. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'vocab.json',
  'merges.txt',
];

export interface ModelCardInfo {
  base: string;
  adapters: Array<{ name: string; weight: number; r: number; alpha: number; targets: string[] }>;
  combination?: string;
}

export function modelCard(info: ModelCardInfo, dtype: string): string {
  const rows = info.adapters.map((a) => `| ${a.name} | ${a.weight} | ${a.r} | ${a.alpha} | ${a.targets.join(', ')} |`);
  return `---
base_model: ${info.base}
library_name: transformers
tags: [homecoder, lora, merged, code]
---
# ${info.base} + ${info.adapters.map((a) => a.name).join(' + ') || '(no adapter)'}

Merged by Homecoder: W' = W + Σ wᵢ·(alphaᵢ/rᵢ)·Bᵢ·Aᵢ computed in float32 from the base weights and rounded to ${dtype}.

| adapter | weight | r | alpha | target modules |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
${info.combination ? `\nAdapters combined as '${info.combination}' (PEFT add_weighted_adapter).\n` : ''}`;
}

const enc = new TextEncoder();

export async function writeHfFolder(
  w: ExportWeights,
  baseFiles: Map<string, Uint8Array>,
  card: ModelCardInfo,
  open: SinkFactory,
  opts: { shardBytes?: number; progress?: ExportProgress } = {},
): Promise<string[]> {
  const st = w.dtype === 'bf16' ? 'BF16' : 'F16';
  const round = w.dtype === 'bf16' ? floatToBf16 : floatToF16;
  const specs = expectedTensors(w.config);
  const limit = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  const shards: (typeof specs)[] = [[]];
  let size = 0;
  for (const s of specs) {
    const n = elementCount(s.shape) * 2;
    if (size > 0 && size + n > limit) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(s);
    size += n;
  }
  const total = specs.reduce((n, s) => n + elementCount(s.shape) * 2, 0);
  const written: string[] = [];
  const small = async (name: string, bytes: Uint8Array) => {
    const sink = await open(name);
    await sink.write(bytes);
    await sink.close();
    written.push(name);
  };
  const config = { ...toHfConfig(w.config), torch_dtype: w.dtype === 'bf16' ? 'bfloat16' : 'float16' };
  await small('config.json', enc.encode(JSON.stringify(config, null, 2)));
  for (const [name, bytes] of baseFiles) if (TOKENIZER_FILES.includes(name)) await small(name, bytes);
  await small('README.md', enc.encode(modelCard(card, w.dtype)));
  const weightMap: Record<string, string> = {};
  let done = 0;
  for (const [i, part] of shards.entries()) {
    const file =
      shards.length === 1
        ? 'model.safetensors'
        : `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const s of part) {
      const n = elementCount(s.shape) * 2;
      header[s.name] = { dtype: st, shape: s.shape, data_offsets: [offset, offset + n] };
      offset += n;
      weightMap[s.name] = file;
    }
    let json = enc.encode(JSON.stringify(header));
    const padded = Math.ceil(json.byteLength / 8) * 8;
    if (padded !== json.byteLength) json = Uint8Array.from({ length: padded }, (_, k) => (k < json.byteLength ? json[k] : 0x20));
    const sink = await open(file);
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.byteLength), true);
    await sink.write(len);
    await sink.write(json);
    for (const s of part) {
      const { values } = await w.tensor(s.name);
      const bits = new Uint16Array(values.length);
      for (let k = 0; k < values.length; k++) bits[k] = round(values[k]);
      await sink.write(new Uint8Array(bits.buffer));
      done += bits.byteLength;
      opts.progress?.(done, total, s.name);
    }
    await sink.close();
    written.push(file);
  }
  if (shards.length > 1)
    await small(
      'model.safetensors.index.json',
      enc.encode(JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)),
    );
  return written;
}
