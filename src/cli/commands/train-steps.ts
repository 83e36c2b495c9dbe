// `homecoder train-steps`: the smallest LoRA training loop (one text, packed into
// sequences), writing a PEFT adapter. The full pipeline comes with the training runs.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { withErrorScopes } from '../../gpu/device.ts';
import { loadNodeModel } from '../open-model.ts';
import { Transformer } from '../../gpu/transformer.ts';
import { GpuLora, initHostAdapter } from '../../gpu/lora.ts';
import { LoraTrainer, DEFAULT_OPTIMIZER } from '../../gpu/trainer.ts';
import { writePeftAdapter } from '../../model/peft.ts';
import { LORA_TARGETS, type LoraTarget } from '../../model/types.ts';
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
`;

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
  // The same validator as `homecoder train` and the Train page, before anything is loaded.
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new SettingsError(flagSetting[name], `--${name} must be a number, got "${v}".`);
    return n;
  };
  const flagSetting: Record<string, keyof TrainSettings> = {
    steps: 'steps',
    'lora-r': 'loraR',
    'lora-alpha': 'loraAlpha',
    'lora-dropout': 'loraDropout',
    'seq-len': 'seqLen',
    seed: 'seed',
    lr: 'lr',
  };
  const loraR = num(values['lora-r'], 'lora-r') ?? 8;
  const settings = validateSettings({
    steps: num(values.steps, 'steps'),
    loraR,
    loraAlpha: num(values['lora-alpha'], 'lora-alpha') ?? 2 * loraR,
    loraDropout: num(values['lora-dropout'], 'lora-dropout') ?? 0,
    seqLen: num(values['seq-len'], 'seq-len') ?? 256,
    seed: num(values.seed, 'seed') ?? 0,
    lr: num(values.lr, 'lr') ?? DEFAULT_OPTIMIZER.lr,
    warmupSteps: 0,
    targets: (values.targets ?? LORA_TARGETS.join(',')).split(',').map((t) => t.trim()) as LoraTarget[],
  });
  const { steps, seqLen, seed, lr, targets } = settings;
  const [r, alpha, dropout] = [settings.loraR, settings.loraAlpha, settings.loraDropout];

  const engine = await loadNodeModel(values.model);
  try {
    const { config } = engine.opened;
    const ids = engine.tokenizer.encode(await readFile(values.text, 'utf8'));
    if (engine.tokenizer.eos !== undefined) ids.push(engine.tokenizer.eos);
    if (ids.length < 2) throw new UsageError(`${values.text} has fewer than two tokens`);
    const blocks: number[][] = [];
    for (let i = 0; i < ids.length; i += seqLen) {
      const block = ids.slice(i, i + seqLen);
      if (block.length >= 2) blocks.push(block);
    }
    const T = Math.min(seqLen, Math.max(...blocks.map((b) => b.length)));
    const lora = { r, alpha, dropout, targets };
    const { adapter, tf } = await withErrorScopes(engine.gpu.device, `allocating LoRA state and activations for ${T} tokens`, () => {
      const adapter = new GpuLora(engine.memory, lora, initHostAdapter(config, lora, seed), { trainable: true });
      return { adapter, tf: new Transformer(engine.runner, engine.memory, engine.model, adapter, { seqLen: T }) };
    });
    const trainer = new LoraTrainer(engine.runner, engine.memory, tf, adapter, seed);
    const log: Array<{ step: number; loss: number; grad_norm: number }> = [];
    const t0 = performance.now();
    let tokens = 0;
    for (let s = 0; s < steps; s++) {
      const res = await trainer.trainStep([{ ids: blocks[s % blocks.length] }], { ...DEFAULT_OPTIMIZER, lr });
      if (!Number.isFinite(res.loss)) throw new TrainingError(res.loss, res.step);
      tokens += res.tokens;
      log.push({ step: res.step, loss: res.loss, grad_norm: res.gradNorm });
      if (!values.json) console.log(`step ${res.step}/${steps}  loss ${res.loss.toFixed(4)}  grad norm ${res.gradNorm.toFixed(3)}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const out = resolve(values.out);
    await mkdir(out, { recursive: true });
    const files = writePeftAdapter({ lora, baseModel: basename(resolve(values.model)), layers: await adapter.toHost() });
    for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
    const memory = engine.memory.report();
    if (values.json) {
      console.log(JSON.stringify({ steps: log, final_loss: log.at(-1)?.loss ?? null, out, memory, tokens_per_s: tokens / seconds }));
    } else {
      console.log(`wrote ${out} (${(tokens / seconds).toFixed(0)} tokens/s, GPU memory ${(memory.total / 2 ** 20).toFixed(1)} MiB)`);
    }
    return 0;
  } finally {
    engine.close();
  }
}
