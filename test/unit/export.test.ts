// Export pieces without llama.cpp: the merge (W + (alpha/r)·B·A against a float64
// computation), the sharded HF folder read back by the loader, Q8_0 blocks, and the typed
// errors for what cannot be exported.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { makeTinyTokenizer } from '../../src/model/fixtures/tiny-tokenizer.ts';
import { openModel } from '../../src/model/loader.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import { bf16ToFloat, f16ToFloat } from '../../src/model/dtype.ts';
import { exportModel, parseExportFormat } from '../../src/model/export/export-model.ts';
import { ExportError } from '../../src/model/export/errors.ts';
import { exportWeights } from '../../src/model/export/merge.ts';
import { writeHfFolder } from '../../src/model/export/hf-folder.ts';
import { ggufTokenizerMetadata } from '../../src/model/export/gguf-tokenizer.ts';
import { ggufArchitecture, permuteRope } from '../../src/model/export/gguf-model.ts';
import { encodeQ8_0 } from '../../src/model/export/quantize.ts';
import { memorySink, type ByteSink } from '../../src/model/export/sink.ts';
import { LORA_TARGETS, type ModelConfig } from '../../src/model/types.ts';
import { randomAdapter } from '../helpers/tiny.ts';
import { runCli } from '../helpers/cli.ts';

function memoryFolder() {
  const files = new Map<string, ReturnType<typeof memorySink>>();
  return {
    open: async (name: string): Promise<ByteSink> => {
      const s = memorySink();
      files.set(name, s);
      return s;
    },
    files: () => new Map([...files].map(([n, s]) => [n, s.bytes()])),
  };
}

describe('merge and the Hugging Face folder', () => {
  it('writes W + (alpha/r)·B·A in bf16, in shards with an index, that the loader reads back', async () => {
    const { config, files } = makeTinyModel({ arch: 'llama', seed: 2 });
    const base = await openModel(memoryFiles('base', files));
    const host = randomAdapter(config, 4, [...LORA_TARGETS], 5, 0.3);
    const adapter = { lora: { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] }, layers: host };
    const out = memoryFolder();
    const written = await writeHfFolder(exportWeights(base, adapter), files, { base: 'tiny', adapters: [] }, out.open, {
      shardBytes: 40_000,
    });
    expect(written).toContain('model.safetensors.index.json');
    expect(written.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(2);
    const merged = await openModel(memoryFiles('merged', out.files()));
    expect(merged.config).toEqual({ ...config, torchDtype: 'bfloat16' });
    const name = 'model.layers.1.self_attn.q_proj.weight';
    const W = (await base.tensor(name)).data;
    const M = (await merged.tensor(name)).data;
    const { A, B, inF, outF } = host[1].q_proj!;
    let worst = 0;
    for (let o = 0; o < outF; o++)
      for (let i = 0; i < inF; i++) {
        let d = 0;
        for (let j = 0; j < 4; j++) d += B[o * 4 + j] * A[j * inF + i];
        const want = bf16ToFloat(W[o * inF + i]) + 2 * d;
        worst = Math.max(worst, Math.abs(bf16ToFloat(M[o * inF + i]) - want) / Math.max(Math.abs(want), 1e-3));
      }
    expect(worst).toBeLessThanOrEqual(2 ** -8); // one bf16 rounding
    // Tensors the adapter does not touch are the base's bits.
    expect((await merged.tensor('model.norm.weight')).data).toEqual((await base.tensor('model.norm.weight')).data);
  });

  it('an f16 base stays f16', async () => {
    const { files } = makeTinyModel({ arch: 'qwen2', dtype: 'f16' });
    const base = await openModel(memoryFiles('base', files));
    const out = memoryFolder();
    await writeHfFolder(exportWeights(base), files, { base: 'tiny', adapters: [] }, out.open);
    const merged = await openModel(memoryFiles('merged', out.files()));
    expect(merged.dtype).toBe('f16');
    const a = (await base.tensor('model.embed_tokens.weight')).data;
    expect(Array.from((await merged.tensor('model.embed_tokens.weight')).data, f16ToFloat)).toEqual(Array.from(a, f16ToFloat));
  });
});

describe('GGUF encodings', () => {
  it('Q8_0: an f16 scale max|x|/127 and round-half-away int8 per block of 32', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? (i - 16) / 4 : 0));
    const q = encodeQ8_0(x);
    expect(q.byteLength).toBe(68);
    const view = new DataView(q.buffer);
    const d = f16ToFloat(view.getUint16(0, true));
    expect(d).toBeCloseTo(4 / 127, 4);
    for (let i = 0; i < 32; i++) expect(Math.abs(view.getInt8(2 + i) * d - x[i])).toBeLessThanOrEqual(d / 2 + 1e-6);
    expect(view.getInt8(2)).toBe(-127);
    expect(view.getUint16(34, true)).toBe(0); // an all-zero block
  });

  it("permutes Llama's q/k rows from rotate-half to interleaved pairs within each head", () => {
    // 2 heads of dim 4, one column: rows [h0: a0 a1 b0 b1, h1: c0 c1 d0 d1] → [a0 b0 a1 b1, c0 d0 c1 d1]
    expect(Array.from(permuteRope(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 2, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });
});

describe('what cannot be exported: typed errors', () => {
  const tok = makeTinyTokenizer();
  it('a SentencePiece-style tokenizer, or an unknown split regex', () => {
    const sp = structuredClone(tok.tokenizerJson) as { model: { byte_fallback: boolean } };
    sp.model.byte_fallback = true;
    expect(() => ggufTokenizerMetadata(sp, tok.tokenizerConfig, tok.vocabSize)).toThrow(
      expect.objectContaining({ code: 'EXPORT_UNSUPPORTED_TOKENIZER' }),
    );
    const odd = structuredClone(tok.tokenizerJson) as { pre_tokenizer: { pretokenizers: Array<{ pattern?: { Regex: string } }> } };
    odd.pre_tokenizer.pretokenizers[0].pattern = { Regex: '\\w+' };
    expect(() => ggufTokenizerMetadata(odd, tok.tokenizerConfig, tok.vocabSize)).toThrow(ExportError);
  });

  it('a tokenizer with ids past the model vocabulary', () => {
    expect(() => ggufTokenizerMetadata(tok.tokenizerJson, tok.tokenizerConfig, 100)).toThrow(
      expect.objectContaining({ code: 'EXPORT_UNSUPPORTED_TOKENIZER' }),
    );
  });

  it('an architecture the writer does not know', () => {
    expect(() => ggufArchitecture({ architecture: 'GPT2LMHeadModel' } as unknown as ModelConfig)).toThrow(
      expect.objectContaining({ code: 'EXPORT_UNSUPPORTED_ARCHITECTURE' }),
    );
  });

  it('an adapter for another model, gguf-lora without an adapter, an unknown format', async () => {
    const small = makeTinyModel({ arch: 'qwen2', layers: 2 });
    const big = makeTinyModel({ arch: 'qwen2', layers: 3 });
    const model = await openModel(memoryFiles('m', small.files));
    const other = randomAdapter(big.config, 2, ['q_proj'], 1);
    const lora = { r: 2, alpha: 2, dropout: 0, targets: ['q_proj' as const] };
    const out = memoryFolder();
    const req = { model, files: memoryFiles('m', small.files), baseName: 'm', open: out.open };
    await expect(exportModel({ ...req, adapters: [{ name: 'x', weight: 1, lora, layers: other }], format: 'gguf-f16' })).rejects.toThrow(
      expect.objectContaining({ code: 'EXPORT_ADAPTER_MISMATCH' }),
    );
    await expect(exportModel({ ...req, adapters: [], format: 'gguf-lora' })).rejects.toThrow(
      expect.objectContaining({ code: 'EXPORT_NEEDS_ADAPTER' }),
    );
    expect(() => parseExportFormat('gguf-q4')).toThrow(expect.objectContaining({ code: 'EXPORT_BAD_FORMAT' }));
  });

  it('the CLI prints the message and exits 1', { timeout: 90_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hc-export-bad-'));
    try {
      const r = runCli('export', '--model', dir, '--format', 'gguf-q4', '--out', join(dir, 'out'));
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('--format gguf-q4: give one of hf, gguf-f16, gguf-q8_0, gguf-q4_k, gguf-lora');
      const missing = runCli('export', '--model', join(dir, 'nothing'), '--format', 'hf', '--out', join(dir, 'out'));
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/config\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
