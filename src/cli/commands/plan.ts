// `homecoder plan`: the GPU memory a model needs, from its config.json alone.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../model/config.ts';
import { LORA_TARGETS, type LoraTarget } from '../../model/types.ts';
import { largestSeqLen, planMemory } from '../../gpu/planner.ts';
import { UsageError } from '../../errors.ts';

export const planHelp = `Usage: homecoder plan --config config.json [--seq-len N] [options] [--json]

Estimates the GPU memory the engine allocates for a model, from its config.json:
weights (16-bit), LoRA adapter, optimizer state (gradients + AdamW moments),
activations (one sequence per micro-batch; larger batches accumulate gradients and
need no more memory) and scratch. The figures are the engine's own buffer list.

  --config FILE      the model's config.json
  --seq-len N        tokens per sequence (default 2048)
  --batch N          sequences per optimizer step (default 1; accumulated one at a
                     time, so memory does not grow with it)
  --low-memory       keep ≈ √layers layer inputs instead of all, recompute the rest
                     in backward (less activation memory, ≈ 1/3 more compute)
  --lora-r N         LoRA rank (default 16)
  --targets LIST     LoRA modules, comma-separated (default all seven)
  --inference        no optimizer state (serving completions; one adapter is served merged
                     into a 16-bit copy of the weights it targets, counted in weights)
  --gpu-memory GiB   also report the longest sequence that fits in this much GPU memory
  --json             print {"weights","adapter","optimizer","activations","scratch","total", ...} in bytes
`;

export async function planCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'seq-len': { type: 'string' },
      batch: { type: 'string' },
      'low-memory': { type: 'boolean', default: false },
      'lora-r': { type: 'string' },
      targets: { type: 'string' },
      inference: { type: 'boolean', default: false },
      'gpu-memory': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(planHelp);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`homecoder plan: --config is required.\n\n${planHelp}`);
    return 2;
  }
  const pos = (v: string | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!(n > 0)) throw new UsageError(`--${name} must be a positive number, got "${v}"`);
    return n;
  };
  const config = parseConfig(JSON.parse(await readFile(values.config, 'utf8')), values.config);
  const seqLen = Math.round(pos(values['seq-len'], 'seq-len', 2048));
  const targets = (values.targets ?? LORA_TARGETS.join(',')).split(',').map((t) => t.trim()) as LoraTarget[];
  const bad = targets.filter((t) => !(LORA_TARGETS as readonly string[]).includes(t));
  if (bad.length) throw new UsageError(`--targets: unknown module ${bad.join(', ')}; choose from ${LORA_TARGETS.join(', ')}`);
  const batch = Math.round(pos(values.batch, 'batch', 1));
  const input = {
    config,
    lora: { r: Math.round(pos(values['lora-r'], 'lora-r', 16)), targets },
    training: !values.inference,
    lowMemory: values['low-memory'],
    merged: values.inference,
  };
  const plan = planMemory({ ...input, seqLen });
  const budget = values['gpu-memory'] ? pos(values['gpu-memory'], 'gpu-memory', 0) * 2 ** 30 : undefined;
  const out = {
    model: config.architecture,
    seq_len: seqLen,
    batch,
    micro_batch: 1,
    low_memory: input.lowMemory,
    training: input.training,
    weights: plan.weights,
    adapter: plan.lora,
    optimizer: plan.optimizer,
    activations: plan.activations,
    scratch: plan.scratch,
    total: plan.total,
    largest_buffer: plan.largestBuffer,
    ...(plan.merged ? { merged_copy: plan.merged } : {}),
    ...(budget !== undefined ? { gpu_memory: budget, fits: plan.total <= budget, max_seq_len: largestSeqLen(input, budget) } : {}),
  };
  if (values.json) {
    console.log(JSON.stringify(out));
  } else {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    console.log(
      `${config.architecture}, ${input.training ? 'LoRA training' : 'inference'}, ${seqLen} tokens per sequence, ` +
        `batch ${batch} (micro-batch 1)${input.lowMemory ? ', low memory mode' : ''}`,
    );
    for (const k of ['weights', 'adapter', 'optimizer', 'activations', 'scratch', 'total'] as const)
      console.log(`  ${k.padEnd(12)} ${gib(out[k])}`);
    if (budget !== undefined)
      console.log(`  ${out.fits ? 'fits' : 'does NOT fit'} in ${gib(budget)}; longest sequence that fits: ${out.max_seq_len} tokens`);
  }
  return 0;
}
