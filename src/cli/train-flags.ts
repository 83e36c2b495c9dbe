// The training sources and settings on the command line, shared by `homecoder train` and
// `homecoder export --format job` (which builds the same dataset without training): the flag
// table, its help lines, parsing into settings, and stage 1 over the sources.
import { importAndFilter } from '../data/node-pipeline.ts';
import type { TrainingFile } from '../data/types.ts';
import { DatasetError } from '../data/errors.ts';
import { UsageError } from '../errors.ts';
import { DEFAULT_SETTINGS, SETTING_HELP, type TrainSettings } from '../train/settings.ts';
import { parseLoraTargets } from './args.ts';

/** CLI flag → setting. */
export const FLAGS: Array<[string, keyof TrainSettings]> = [
  ['lora-r', 'loraR'],
  ['lora-alpha', 'loraAlpha'],
  ['lora-dropout', 'loraDropout'],
  ['targets', 'targets'],
  ['lr', 'lr'],
  ['batch-size', 'batchSize'],
  ['warmup', 'warmupSteps'],
  ['weight-decay', 'weightDecay'],
  ['steps', 'steps'],
  ['schedule', 'schedule'],
  ['decay-steps', 'decaySteps'],
  ['grad-clip', 'maxGradNorm'],
  ['seq-len', 'seqLen'],
  ['seed', 'seed'],
  ['fim-rate', 'fimRate'],
  ['fim-spm-rate', 'fimSpmRate'],
  ['test-fraction', 'testFraction'],
  ['eval-every', 'evalEvery'],
  ['checkpoint-every', 'checkpointEvery'],
  ['checkpoint-minutes', 'checkpointMinutes'],
  ['early-stop', 'earlyStop'],
  ['gpu-memory', 'gpuMemoryBudget'],
];

export type Args = Record<string, string | string[] | boolean | undefined>;
export type OptionTable = Record<string, { type: 'string' | 'boolean'; default?: boolean; multiple?: boolean }>;

/** parseArgs options for the sources and settings (the flags both commands take). */
export function sourceAndSettingOptions(): OptionTable {
  const options: OptionTable = {
    source: { type: 'string', multiple: true },
    'test-files': { type: 'string', multiple: true },
    chat: { type: 'string' },
    'low-memory': { type: 'boolean' },
  };
  for (const [f] of FLAGS) options[f] = { type: 'string' };
  return options;
}

const show = (k: keyof TrainSettings) =>
  k === 'gpuMemoryBudget'
    ? `${DEFAULT_SETTINGS[k] / 2 ** 30} GiB`
    : k === 'targets'
      ? DEFAULT_SETTINGS.targets.join(',')
      : String(DEFAULT_SETTINGS[k]);

export const SOURCE_HELP = `  --source SRC         a folder, a file, an archive (.zip, .tar, .tar.gz, .tar.bz2) or an
                       http(s) git URL (token from HOMECODER_GIT_TOKEN); repeatable. Files go
                       through the stage-1 filter first, as \`homecoder filter\` shows
  --test-files GLOB    paths matching this glob are the test set (repeatable; default: a seeded choice)
  --chat FILE          JSONL conversations {"messages":[...]} to mix in (model's chat template)`;

export const LOW_MEMORY_HELP = `  --low-memory         ${SETTING_HELP.lowMemory}`;

export const SETTINGS_HELP = FLAGS.map(([f, k]) => `  --${f.padEnd(18)} ${SETTING_HELP[k]} (default ${show(k)})`).join('\n');

/** The flag that sets a setting, for messages. */
export const flagOf = (k: keyof TrainSettings) => `--${FLAGS.find((f) => f[1] === k)?.[0] ?? 'low-memory'}`;

function parseSetting(k: keyof TrainSettings, v: string): TrainSettings[keyof TrainSettings] {
  if (k === 'targets') return parseLoraTargets(v);
  if (k === 'schedule') {
    if (v !== 'linear' && v !== 'cosine') throw new UsageError(`--schedule must be linear or cosine, got "${v}"`);
    return v;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${flagOf(k)} must be a number, got "${v}"`);
  return k === 'gpuMemoryBudget' ? n * 2 ** 30 : n;
}

/** The settings the flags give (the rest stay at their defaults). */
export function settingsFrom(v: Args): Partial<TrainSettings> {
  const over: Partial<TrainSettings> = {};
  for (const [f, k] of FLAGS) if (typeof v[f] === 'string') (over as Record<string, unknown>)[k] = parseSetting(k, v[f] as string);
  if (v['low-memory']) over.lowMemory = true;
  return over;
}

export type Say = (text: string, obj: object) => void;

/** Stage 1: the same import and filter as `homecoder filter` and the Sources/Filter pages. */
export async function stage1(sources: string[], testGlobs: string[] | undefined, say: Say): Promise<TrainingFile[]> {
  const imported = await importAndFilter(sources, { test: testGlobs, token: process.env.HOMECODER_GIT_TOKEN });
  const { summary } = imported;
  say(
    `stage 1: ${summary.accepted} of ${summary.total} files accepted (${
      Object.entries(summary.byReason)
        .filter(([r, n]) => n > 0 && r !== 'accepted')
        .map(([r, n]) => `${r} ${n}`)
        .join(', ') || 'none rejected'
    })`,
    { stage1: summary },
  );
  if (summary.accepted === 0) throw new DatasetError('NO_TRAIN_FILES', summary.explanation ?? 'No file was accepted by the filter.');
  return imported.accepted;
}
