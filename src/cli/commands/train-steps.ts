// `homecoder train-steps`: the smallest LoRA training loop (one text, packed into
// sequences), writing a PEFT adapter. The full pipeline comes with the training runs.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { withErrorScopes } from '../../gpu/device.ts';
import { loadNodeModel, type NodeModel } from '../open-model.ts';
import { KERNELS_HELP, KERNELS_OPTION, parseKernelsOption } from '../kernels-option.ts';
import { parseLoraTargets } from '../args.ts';
import { Transformer } from '../../gpu/transformer.ts';
import { GpuLora, initHostAdapter } from '../../gpu/lora.ts';
import { LoraTrainer, DEFAULT_OPTIMIZER } from '../../gpu/trainer.ts';
import { writePeftAdapter } from '../../model/peft.ts';
import { LORA_TARGETS, type LoraConfig } from '../../model/types.ts';
import type { ModelTokenizer } from '../../model/tokenizer.ts';
import { UsageError } from '../../errors.ts';
import { TrainingError } from '../../train/errors.ts';
import { SettingsError, validateSettings, type TrainSettings } from '../../train/settings.ts';

export const trainStepsHelp = `Usage: homecoder train-steps --model DIR --text FILE --steps N --out DIR [options] [--json]

Trains a LoRA adapter on one text for N optimizer steps and writes it in PEFT format.
The text is tokenized, followed by EOS, and packed into sequences of --seq-len tokens;
each step trains on the next sequence.

  --model DIR         Hugging Face model folder
  --text FILE         training text
  --steps N           optimizer steps
  --out DIR           where to write adapter_config.json + adapter_model.safetensors
  --lr X              learning rate (default ${DEFAULT_OPTIMIZER.lr})
  --lora-r N          LoRA rank (default 8)
  --lora-alpha X      LoRA alpha (default 2·r)
  --lora-dropout X    LoRA dropout (default 0)
  --targets LIST      modules, comma-separated (default ${LORA_TARGETS.join(',')})
  --seq-len N         tokens per sequence (default 256)
  --seed N            initialisation and dropout seed (default 0)
  --json              print {"steps": [{"step","loss","grad_norm"}], "final_loss", "out", "memory", "tokens_per_s"}
${KERNELS_HELP}
`;

interface StepsSettings {
  steps: number;
  lora: LoraConfig;
  seqLen: number;
  seed: number;
  lr: number;
}

/** CLI flag → training setting, for the error that names the setting. */
const FLAG_SETTING: Record<string, keyof TrainSettings> = {
  steps: 'steps',
  'lora-r': 'loraR',
  'lora-alpha': 'loraAlpha',
  'lora-dropout': 'loraDropout',
  'seq-len': 'seqLen',
  seed: 'seed',
  lr: 'lr',
};

/** The flags through the same validator as `homecoder train` and the Train page, before anything is loaded. */
function parseSettings(values: Record<string, string | boolean | undefined>): StepsSettings {
  const num = (name: string): number | undefined => {
    const v = values[name] as string | undefined;
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new SettingsError(FLAG_SETTING[name], `--${name} must be a number, got "${v}".`);
    return n;
  };
  const loraR = num('lora-r') ?? 8;
  const s = validateSettings({
    steps: num('steps'),
    loraR,
    loraAlpha: num('lora-alpha') ?? 2 * loraR,
    loraDropout: num('lora-dropout') ?? 0,
    seqLen: num('seq-len') ?? 256,
    seed: num('seed') ?? 0,
    lr: num('lr') ?? DEFAULT_OPTIMIZER.lr,
    warmupSteps: 0,
    targets: parseLoraTargets((values.targets as string | undefined) ?? LORA_TARGETS.join(',')),
  });
  return {
    steps: s.steps,
    lora: { r: s.loraR, alpha: s.loraAlpha, dropout: s.loraDropout, targets: s.targets },
    seqLen: s.seqLen,
    seed: s.seed,
    lr: s.lr,
  };
}

/** The text's tokens (and EOS) cut into sequences of at most `seqLen` (at least 2) tokens. */
function textBlocks(tokenizer: ModelTokenizer, text: string, seqLen: number, file: string): number[][] {
  const ids = tokenizer.encode(text);
  if (tokenizer.eos !== undefined) ids.push(tokenizer.eos);
  if (ids.length < 2) throw new UsageError(`${file} has fewer than two tokens`);
  const blocks: number[][] = [];
  for (let i = 0; i < ids.length; i += seqLen) {
    const block = ids.slice(i, i + seqLen);
    if (block.length >= 2) blocks.push(block);
  }
  return blocks;
}

/** Trains `steps` steps, one block each in turn; the loss log and the tokens per second. */
async function trainBlocks(
  engine: NodeModel,
  blocks: number[][],
  set: StepsSettings,
  say: (line: string) => void,
): Promise<{ adapter: GpuLora; log: Array<{ step: number; loss: number; grad_norm: number }>; tokensPerSecond: number }> {
  const T = Math.min(set.seqLen, Math.max(...blocks.map((b) => b.length)));
  const { lora, seed } = set;
  const { adapter, tf } = await withErrorScopes(engine.gpu.device, `allocating LoRA state and activations for ${T} tokens`, () => {
    const adapter = new GpuLora(engine.memory, lora, initHostAdapter(engine.opened.config, lora, seed), { trainable: true });
    return { adapter, tf: new Transformer(engine.runner, engine.memory, engine.model, adapter, { seqLen: T }) };
  });
  const trainer = new LoraTrainer(engine.runner, engine.memory, tf, adapter, seed);
  const log: Array<{ step: number; loss: number; grad_norm: number }> = [];
  const t0 = performance.now();
  let tokens = 0;
  for (let s = 0; s < set.steps; s++) {
    const res = await trainer.trainStep([{ ids: blocks[s % blocks.length] }], { ...DEFAULT_OPTIMIZER, lr: set.lr });
    if (!Number.isFinite(res.loss)) throw new TrainingError(res.loss, res.step);
    tokens += res.tokens;
    log.push({ step: res.step, loss: res.loss, grad_norm: res.gradNorm });
    say(`step ${res.step}/${set.steps}  loss ${res.loss.toFixed(4)}  grad norm ${res.gradNorm.toFixed(3)}`);
  }
  return { adapter, log, tokensPerSecond: tokens / ((performance.now() - t0) / 1000) };
}

export async function trainStepsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      steps: { type: 'string' },
      out: { type: 'string' },
      lr: { type: 'string' },
      'lora-r': { type: 'string' },
      'lora-alpha': { type: 'string' },
      'lora-dropout': { type: 'string' },
      targets: { type: 'string' },
      'seq-len': { type: 'string' },
      seed: { type: 'string' },
      ...KERNELS_OPTION,
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(trainStepsHelp);
    return 0;
  }
  if (!values.model || !values.text || !values.steps || !values.out) {
    process.stderr.write(`homecoder train-steps: --model, --text, --steps and --out are required.\n\n${trainStepsHelp}`);
    return 2;
  }
  const set = parseSettings(values);
  const engine = await loadNodeModel(values.model, { kernels: parseKernelsOption(values.kernels) });
  try {
    const blocks = textBlocks(engine.tokenizer, await readFile(values.text, 'utf8'), set.seqLen, values.text);
    const { adapter, log, tokensPerSecond } = await trainBlocks(engine, blocks, set, (line) => {
      if (!values.json) console.log(line);
    });
    const out = resolve(values.out);
    await mkdir(out, { recursive: true });
    const files = writePeftAdapter({ lora: set.lora, baseModel: basename(resolve(values.model)), layers: await adapter.toHost() });
    for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
    const memory = engine.memory.report();
    if (values.json) {
      console.log(JSON.stringify({ steps: log, final_loss: log.at(-1)?.loss ?? null, out, memory, tokens_per_s: tokensPerSecond }));
    } else {
      console.log(`wrote ${out} (${tokensPerSecond.toFixed(0)} tokens/s, GPU memory ${(memory.total / 2 ** 20).toFixed(1)} MiB)`);
    }
    return 0;
  } finally {
    engine.close();
  }
}
