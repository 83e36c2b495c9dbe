// Opens a Hugging Face model folder (config.json + model.safetensors, or a sharded
// model.safetensors.index.json + shards) from any ModelFiles. Every header is read and
// every expected tensor checked (present, right shape, known dtype) before this
// returns, so bad files fail before any GPU work. Tensors are then read one at a time.
import { parseConfig } from './config.ts';
import { ModelError } from './errors.ts';
import { readJson, type ByteSource, type ModelFiles } from './storage/files.ts';
import { expectedTensors } from './layout.ts';
import { readSafetensorsHeader, readTensorBytes, type TensorInfo } from './safetensors.ts';
import { bf16ToFloat, f16ToFloat, floatToBf16, floatToF16 } from './dtype.ts';
import type { HostTensor, ModelConfig, WeightDtype } from './types.ts';

export interface OpenModel {
  config: ModelConfig;
  /** The 16-bit type weights are kept in (f32 checkpoints become bf16). */
  dtype: WeightDtype;
  /** Total bytes of the expected tensors as stored. */
  bytes: number;
  tensorNames: string[];
  tensor(name: string): Promise<HostTensor>;
}

const INDEX = 'model.safetensors.index.json';
const SINGLE = 'model.safetensors';

/**
 * A shard named by the index must be a plain .safetensors file in the model folder: a
 * name such as ../../../etc/passwd would otherwise be opened (and hub downloads written)
 * outside it.
 */
export function checkShardName(name: unknown): string {
  if (typeof name !== 'string' || !/^[^/\\:\0]+\.safetensors$/.test(name) || name.startsWith('.'))
    throw new ModelError(
      'UNSAFE_PATH',
      `${INDEX}: weight_map names the shard ${JSON.stringify(name)}, which is not a .safetensors file in the model folder; nothing was opened. The index is damaged or hostile: download the model again from a source you trust.`,
      { file: INDEX },
    );
  return name;
}

export async function openModel(files: ModelFiles): Promise<OpenModel> {
  const config = parseConfig(await readJson(files, 'config.json'));
  const located = new Map<string, { src: ByteSource; info: TensorInfo }>();
  const names = await files.list();
  const shardNames: string[] = [];
  if (names.includes(INDEX)) {
    const index = await readJson<{ weight_map?: Record<string, string> }>(files, INDEX);
    if (!index.weight_map) throw new ModelError('BAD_HEADER', `${INDEX} has no weight_map.`, { file: INDEX });
    shardNames.push(...new Set(Object.values(index.weight_map).map(checkShardName)));
  } else if (names.includes(SINGLE)) {
    shardNames.push(SINGLE);
  } else {
    throw new ModelError(
      'MISSING_FILE',
      `${files.label} has neither ${SINGLE} nor ${INDEX}. Homecoder reads safetensors weights; convert .bin checkpoints first.`,
      { file: SINGLE },
    );
  }
  for (const shard of shardNames) {
    const src = await files.open(shard);
    if (!src)
      throw new ModelError('MISSING_FILE', `Shard ${shard} named by ${INDEX} is missing from ${files.label}. Download it again.`, {
        file: shard,
      });
    const header = await readSafetensorsHeader(src);
    for (const info of header.tensors.values()) located.set(info.name, { src, info });
  }

  const expected = expectedTensors(config);
  let bytes = 0;
  const storedTypes = new Set<string>();
  for (const spec of expected) {
    const found = located.get(spec.name);
    if (!found) {
      throw new ModelError(
        'MISSING_TENSOR',
        `Tensor ${spec.name} is missing from ${shardNames.join(', ')} ` +
          `(${config.architecture} with ${config.numLayers} layers needs it). The download may be incomplete.`,
        {
          file: shardNames[0],
          tensor: spec.name,
        },
      );
    }
    const { info, src } = found;
    if (info.shape.length !== spec.shape.length || info.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ModelError(
        'BAD_SHAPE',
        `${src.name}: tensor ${spec.name} has shape [${info.shape}], but config.json implies [${spec.shape}]. The weights do not belong to this config.`,
        {
          file: src.name,
          tensor: spec.name,
        },
      );
    }
    bytes += info.byteLength;
    storedTypes.add(info.dtype);
  }
  const dtype: WeightDtype = storedTypes.size === 1 && storedTypes.has('F16') ? 'f16' : 'bf16';

  return {
    config,
    dtype,
    bytes,
    tensorNames: expected.map((s) => s.name),
    async tensor(name) {
      const found = located.get(name);
      if (!found) throw new ModelError('MISSING_TENSOR', `Tensor ${name} is not in this model.`, { tensor: name });
      const raw = await readTensorBytes(found.src, found.info);
      const data = to16(raw, found.info.dtype, dtype);
      const bad = firstNonFinite(data, dtype);
      if (bad >= 0)
        throw new ModelError(
          'BAD_WEIGHTS',
          `${found.src.name}: tensor ${name} holds ${Number.isNaN((dtype === 'bf16' ? bf16ToFloat : f16ToFloat)(data[bad])) ? 'NaN' : 'an infinite value'} (element ${bad}); the model would compute NaN. The weights are damaged: download them again.`,
          { file: found.src.name, tensor: name },
        );
      return { name, shape: found.info.shape, dtype, data };
    },
  };
}

/** Index of the first NaN or ±Inf among 16-bit values (all exponent bits set), or -1. */
export function firstNonFinite(bits: Uint16Array, dtype: WeightDtype): number {
  const exp = dtype === 'bf16' ? 0x7f80 : 0x7c00;
  for (let i = 0; i < bits.length; i++) if ((bits[i] & exp) === exp) return i;
  return -1;
}

/** Stored bytes → 16-bit values of the model's dtype (copying: stored bytes may be unaligned). */
function to16(raw: Uint8Array, stored: TensorInfo['dtype'], dtype: WeightDtype): Uint16Array {
  const aligned = raw.slice();
  if (stored === 'F32') {
    const f = new Float32Array(aligned.buffer);
    const out = new Uint16Array(f.length);
    const round = dtype === 'bf16' ? floatToBf16 : floatToF16;
    for (let i = 0; i < f.length; i++) out[i] = round(f[i]);
    return out;
  }
  const bits = new Uint16Array(aligned.buffer);
  const storedDtype = stored === 'BF16' ? 'bf16' : 'f16';
  if (storedDtype === dtype) return bits;
  const from = storedDtype === 'bf16' ? bf16ToFloat : f16ToFloat;
  const to = dtype === 'bf16' ? floatToBf16 : floatToF16;
  return bits.map((b) => to(from(b)));
}

export function hostTensorToFloat64(t: HostTensor): Float64Array {
  return Float64Array.from(t.data, t.dtype === 'bf16' ? bf16ToFloat : f16ToFloat);
}
