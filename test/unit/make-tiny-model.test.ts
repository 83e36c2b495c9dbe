// `make-tiny-model --config`: a random-weight model with a real config's exact shapes,
// written one tensor at a time (the same bytes as the in-memory fixture writer), and clear
// errors for a missing config or an unsupported architecture.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { loadConfig, writeTinyModel } from '../../src/cli/commands/make-tiny-model.ts';
import { makeTinyModel, planTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { openModel } from '../../src/model/loader.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { ModelError } from '../../src/model/errors.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-make-tiny-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('streams the same bytes the in-memory writer makes (sharded, f32)', async () => {
  const opts = { layers: 2, shards: 3, dtype: 'f32' as const, seed: 7 };
  await writeTinyModel(planTinyModel(opts), join(dir, 'streamed'));
  const { files } = makeTinyModel(opts);
  expect(files.size).toBe(8); // 4 small files + index + 3 shards
  for (const [name, bytes] of files) expect(new Uint8Array(readFileSync(join(dir, 'streamed', name)))).toEqual(bytes);
});

it('a catalog name gives Qwen2.5-Coder-0.5B: every tensor at its real shape', async () => {
  const c = await loadConfig('Qwen2.5-Coder-0.5B');
  expect(c).toMatchObject({ numLayers: 24, hiddenSize: 896, numHeads: 14, numKvHeads: 2, intermediateSize: 4864, vocabSize: 151936 });
  expect(c).toMatchObject({ tieWordEmbeddings: true, ropeTheta: 1e6, headDim: 64 });
  // The plan only: no weights are generated.
  const plan = planTinyModel({ fromConfig: c });
  const shapes = new Map(plan.shards.flatMap((s) => s.tensors.map((t) => [t.name, t.shape])));
  expect(shapes.get('model.embed_tokens.weight')).toEqual([151936, 896]);
  expect(shapes.get('model.layers.23.self_attn.k_proj.weight')).toEqual([128, 896]);
  expect(shapes.get('model.layers.23.mlp.down_proj.weight')).toEqual([896, 4864]);
  expect(shapes.has('lm_head.weight')).toBe(false); // tied
  const params = [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  expect(params).toBe(494032768); // Qwen2.5-Coder-0.5B's parameter count
});

it('--config FILE keeps every shape of the config (explicit head_dim, untied, rope theta) and --layers overrides', () => {
  const cfg = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 1000,
    hidden_size: 128,
    intermediate_size: 320,
    num_hidden_layers: 30,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 48,
    rope_theta: 500000,
    tie_word_embeddings: false,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const out = join(dir, 'from-config');
  const r = runCli('make-tiny-model', '--config', join(dir, 'config.json'), '--layers', '2', '--out', out);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const written = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  expect(written).toMatchObject({ ...cfg, num_hidden_layers: 2 });
  return openModel(nodeFiles(out)).then((m) => {
    expect(m.config.headDim).toBe(48);
    expect(m.config.numLayers).toBe(2);
  });
});

it('refuses a missing config, an unsupported architecture and shape flags beside --config', async () => {
  await expect(loadConfig(join(dir, 'nope.json'))).rejects.toMatchObject({ code: 'MISSING_FILE' });
  writeFileSync(join(dir, 'gpt2.json'), JSON.stringify({ architectures: ['GPT2LMHeadModel'] }));
  const e = await loadConfig(join(dir, 'gpt2.json')).catch((x) => x);
  expect(e).toBeInstanceOf(ModelError);
  expect(e.code).toBe('UNSUPPORTED_ARCHITECTURE');
  const r = runCli('make-tiny-model', '--config', join(dir, 'gpt2.json'), '--out', join(dir, 'x'));
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/GPT2LMHeadModel is not supported/);
  const m = runCli('make-tiny-model', '--config', join(dir, 'missing'), '--out', join(dir, 'x'));
  expect(m.status).not.toBe(0);
  expect(m.stderr).toMatch(/no such file, and not a catalog name.*Qwen2\.5-Coder-0\.5B/);
  const f = runCli('make-tiny-model', '--config', 'Qwen2.5-Coder-0.5B', '--hidden', '64', '--out', join(dir, 'x'));
  expect(f.status).not.toBe(0);
  expect(f.stderr).toMatch(/leave out --hidden/);
});
