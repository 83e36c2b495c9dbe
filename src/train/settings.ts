// A training run's settings, their defaults for a browser GPU with one line of help
// each, and the automatic number of steps (Refact's rule: more epochs for small data).
import { HomecoderError, registerError } from '../errors.ts';
import { LORA_TARGETS, type LoraTarget } from '../model/types.ts';

export interface TrainSettings {
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  targets: LoraTarget[];
  lr: number;
  /** Sequences per optimizer step (gradient accumulation over one-sequence micro-batches). */
  batchSize: number;
  warmupSteps: number;
  weightDecay: number;
  /** 0 = automatic from the dataset size. */
  steps: number;
  schedule: 'linear' | 'cosine';
  /** Steps over which the learning rate decays to 0 after warmup; 0 = until the last step. */
  decaySteps: number;
  maxGradNorm: number;
  seqLen: number;
  seed: number;
  fimRate: number;
  fimSpmRate: number;
  /** Share of runs of related files of one repository trained as one repository-level sequence. */
  repoShare: number;
  /** Share of files held out for test loss when none is marked. */
  testFraction: number;
  /** Most of the training text that commits of the history may be (only sources read with history have any). */
  historyShare: number;
  evalEvery: number;
  checkpointEvery: number;
  /** Also save a checkpoint when this many minutes passed since the last one (0 = by steps only). */
  checkpointMinutes: number;
  /** Stop when test loss has not improved for this share of the steps (0 = never). */
  earlyStop: number;
  /** GPU memory the run may use, in bytes (the browser does not tell how much there is). */
  gpuMemoryBudget: number;
  /** Keep ≈ √layers layer inputs and recompute the rest in backward: less memory, more compute. */
  lowMemory: boolean;
  /** Conversations: loss on the assistant's answers only (pairs always train on the completion only). */
  lossOnAnswersOnly: boolean;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  loraR: 16,
  loraAlpha: 32,
  loraDropout: 0.01,
  targets: [...LORA_TARGETS],
  lr: 3e-4,
  batchSize: 8,
  warmupSteps: 20,
  weightDecay: 0.1,
  steps: 0,
  schedule: 'linear',
  decaySteps: 0,
  maxGradNorm: 0.5,
  seqLen: 1024,
  seed: 42,
  fimRate: 0.5,
  fimSpmRate: 0.5,
  repoShare: 0.3,
  testFraction: 0.1,
  historyShare: 0.2,
  evalEvery: 10,
  checkpointEvery: 20,
  checkpointMinutes: 2,
  earlyStop: 0,
  gpuMemoryBudget: 4 * 2 ** 30,
  lowMemory: false,
  lossOnAnswersOnly: true,
};

/** One line per setting: what it does (shown next to it on the Train page and in --help). */
export const SETTING_HELP: Record<keyof TrainSettings, string> = {
  loraR: 'LoRA rank: more capacity and memory with larger values.',
  loraAlpha: 'LoRA scale numerator (update scaled by alpha/r).',
  loraDropout: 'Dropout on the LoRA input; a little regularisation.',
  targets: 'Which projections get LoRA weights.',
  lr: 'Peak learning rate (AdamW).',
  batchSize: 'Sequences per optimizer step (accumulated one at a time).',
  warmupSteps: 'Steps over which the learning rate rises from 0 to its peak (at most 10% of the steps).',
  weightDecay: 'AdamW weight decay on the LoRA weights.',
  steps: 'Optimizer steps; 0 chooses from the dataset size (shown before start).',
  schedule: 'How the learning rate decays after warmup: linear or cosine.',
  decaySteps: 'Steps of decay after warmup; 0 decays until the last step.',
  maxGradNorm: 'Clip the gradient norm to this (0 = no clipping).',
  seqLen: 'Tokens per sequence; the main driver of GPU memory.',
  seed: 'Seed for the split, FIM, data order, init and dropout: same seed, same run.',
  fimRate: 'Share of files turned into fill-in-the-middle examples.',
  fimSpmRate: 'Share of FIM examples in suffix-prefix-middle order.',
  repoShare: "Share of runs of a repository's related files trained together as one sequence (its file separators).",
  testFraction: 'Share of files held out for test loss when none is marked.',
  historyShare: 'Most of the training text that commits of the history may be (0 = none; a depth-1 clone has none).',
  evalEvery: 'Measure test loss every this many steps.',
  checkpointEvery: 'Save a checkpoint (adapter + optimizer) every this many steps.',
  checkpointMinutes: 'Also save one when this many minutes passed since the last (0 = by steps only): a reload loses little.',
  earlyStop: 'Stop when test loss has not improved for this share of the steps (0 = off).',
  gpuMemoryBudget: 'GPU memory the run may use; the run is checked against it before start.',
  lowMemory: 'Low memory mode: keep fewer activations and recompute them (about 1/3 more compute).',
  lossOnAnswersOnly: "Conversations: train on the assistant's answers only, not on the system and user turns.",
};

/** Refact's automatic length: epochs by dataset size, at least 50 steps, a multiple of 50. */
export function autoSteps(trainBlocks: number, batchSize: number): number {
  const epochs = trainBlocks < 1000 ? 50 : trainBlocks < 5000 ? 35 : trainBlocks < 15000 ? 20 : trainBlocks < 30000 ? 10 : 3;
  const steps = Math.max(Math.ceil((epochs * trainBlocks) / batchSize), 50);
  return Math.ceil(steps / 50) * 50;
}

/** Most steps of any kind (steps, warmup, decay, evaluation interval) a run may ask for. */
export const MAX_STEPS = 1_000_000;

export class SettingsError extends HomecoderError<'BAD_SETTING', { setting: keyof TrainSettings }> {
  constructor(setting: keyof TrainSettings, message: string) {
    super('BAD_SETTING', message, { data: { setting }, hint: `Change ${setting} and start again.` });
    this.name = 'SettingsError';
  }
  /** The setting to change (the form field of the same name). */
  get setting(): keyof TrainSettings {
    return this.data.setting;
  }
}
registerError('SettingsError', SettingsError);

/** Checks ranges; returns the settings with defaults filled in. */
export function validateSettings(over: Partial<TrainSettings>, maxPositions?: number): TrainSettings {
  const s = { ...DEFAULT_SETTINGS, ...over };
  const need = (ok: boolean, k: keyof TrainSettings, what: string) => {
    if (!ok) throw new SettingsError(k, `${k} ${what} (got ${JSON.stringify(s[k])}).`);
  };
  // Every number is finite and bounded: an absurd value is refused here, by name, instead of
  // clamped or run (warmup 1e12 trained at lr 6e-16; r = 0 was silently raised to 1).
  const int = (k: keyof TrainSettings, min: number, max = MAX_STEPS) =>
    need(Number.isInteger(s[k]) && (s[k] as number) >= min && (s[k] as number) <= max, k, `must be an integer from ${min} to ${max}`);
  const num = (k: keyof TrainSettings, min: number, max = 1e6) =>
    need(typeof s[k] === 'number' && (s[k] as number) >= min && (s[k] as number) <= max, k, `must be a number in [${min}, ${max}]`);
  int('loraR', 1, 1024);
  num('loraAlpha', 0, 65536);
  num('loraDropout', 0, 0.9);
  need(
    Array.isArray(s.targets) && s.targets.length > 0 && s.targets.every((t) => (LORA_TARGETS as readonly string[]).includes(t)),
    'targets',
    `must be some of ${LORA_TARGETS.join(', ')}`,
  );
  num('lr', 0, 1);
  need(s.lr > 0, 'lr', 'must be above 0');
  int('batchSize', 1, 4096);
  int('warmupSteps', 0);
  num('weightDecay', 0, 1);
  int('steps', 0);
  if (s.steps > 0) need(s.warmupSteps <= s.steps, 'warmupSteps', `must be at most the number of steps (${s.steps})`);
  need(s.schedule === 'linear' || s.schedule === 'cosine', 'schedule', 'must be linear or cosine');
  int('decaySteps', 0);
  num('maxGradNorm', 0);
  int('seqLen', 2, 2 ** 20);
  if (maxPositions) need(s.seqLen <= maxPositions, 'seqLen', `must be at most ${maxPositions}, the model's context length`);
  int('seed', 0, 2 ** 32 - 1);
  num('fimRate', 0, 1);
  num('fimSpmRate', 0, 1);
  num('repoShare', 0, 1);
  num('testFraction', 0, 0.5);
  num('historyShare', 0, 0.9);
  int('evalEvery', 1);
  int('checkpointEvery', 1);
  num('checkpointMinutes', 0, 24 * 60);
  num('earlyStop', 0, 1);
  num('gpuMemoryBudget', 1, 2 ** 50);
  need(typeof s.lowMemory === 'boolean', 'lowMemory', 'must be true or false');
  need(typeof s.lossOnAnswersOnly === 'boolean', 'lossOnAnswersOnly', 'must be true or false');
  return s;
}
