// The flags `homecoder train`, `homecoder dataset` and `homecoder export --format job` share: the
// training settings, the sources and their stage-1 filter (source-args.ts), and the supervised data (--chat, --pairs). One parser, so the dataset
// command builds exactly what a run with the same flags trains on.
import { importAndFilter } from '../data/node-pipeline.ts';
import { readSupervisedPaths } from '../data/node-supervised.ts';
import type { SupervisedFile } from '../data/dataset/supervised.ts';
import type { TrainingFile } from '../data/types.ts';
import { DatasetError } from '../data/errors.ts';
import { DEFAULT_SETTINGS, SETTING_HELP, type TrainSettings } from '../train/settings.ts';
import { UsageError } from '../errors.ts';
import { parseLoraTargets, parseRepoShare } from './args.ts';
import { importOptions, SOURCE_HELP, SOURCE_OPTIONS, type SourceValues } from './source-args.ts';

/** CLI flag → setting. */
export const SETTING_FLAGS: Array<[string, keyof TrainSettings]> = [
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
  ['repo-share', 'repoShare'],
  ['test-fraction', 'testFraction'],
  ['history-share', 'historyShare'],
  ['eval-every', 'evalEvery'],
  ['checkpoint-every', 'checkpointEvery'],
  ['checkpoint-minutes', 'checkpointMinutes'],
  ['early-stop', 'earlyStop'],
  ['gpu-memory', 'gpuMemoryBudget'],
];

/** Boolean flags that set a setting. */
export const BOOLEAN_FLAGS: Array<[string, keyof TrainSettings, boolean]> = [
  ['low-memory', 'lowMemory', true],
  ['all-tokens', 'lossOnAnswersOnly', false],
];

export type Args = Record<string, string | string[] | boolean | undefined>;
export type ArgOptions = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** The data flags' options for node:util parseArgs (the settings' too). */
export function dataOptions(): ArgOptions {
  const options: ArgOptions = {
    model: { type: 'string' },
    source: { type: 'string', multiple: true },
    'test-files': { type: 'string', multiple: true },
    chat: { type: 'string', multiple: true },
    pairs: { type: 'string', multiple: true },
    'prompt-column': { type: 'string' },
    'completion-column': { type: 'string' },
    ...SOURCE_OPTIONS,
  };
  for (const [f] of SETTING_FLAGS) options[f] = { type: 'string' };
  for (const [f] of BOOLEAN_FLAGS) options[f] = { type: 'boolean' };
  return options;
}

const show = (k: keyof TrainSettings) =>
  k === 'gpuMemoryBudget'
    ? `${DEFAULT_SETTINGS[k] / 2 ** 30} GiB`
    : k === 'targets'
      ? DEFAULT_SETTINGS.targets.join(',')
      : String(DEFAULT_SETTINGS[k]);

/** Help lines for the data flags (without --model, for commands that describe it their own way). */
export const sourcesHelp = `  --source SRC         a folder, a file, an archive (.zip, .tar, .tar.gz, .tar.bz2) or an
                       http(s) git URL (token from HOMECODER_GIT_TOKEN); repeatable. Files go
                       through the stage-1 filter first, as \`homecoder filter\` shows
  --test-files GLOB    paths matching this glob are the test set (repeatable; default: a seeded choice)
Source and stage-1 filter options (as for \`homecoder filter\`; commits taken with --history are
trained in the commit format, at most --history-share of the training text):
${SOURCE_HELP.trimEnd()}
  --chat PATH          conversations {"messages":[...]}: a JSONL file or a folder of them (repeatable);
                       rendered with the model's chat template, loss on the assistant's answers
  --pairs PATH         prompt/completion pairs {"prompt","completion"} or {"input","output"}: a JSONL
                       or CSV file or a folder (repeatable); loss on the completion only. Rendered as a
                       user and an assistant turn for a model with a chat template, else prompt +
                       completion + EOS. Bad lines are reported by line number and skipped
  --prompt-column C    CSV: the prompt's column (default prompt, else input)
  --completion-column C
                       CSV: the completion's column (default completion, else output)
  --all-tokens         conversations: train on every token (system and user turns too), not only
                       the assistant's answers
  --low-memory         ${SETTING_HELP.lowMemory}`;

/** Help lines for the data flags. */
export const dataHelp = `  --model DIR          Hugging Face model folder\n${sourcesHelp}`;

export const settingsHelp = SETTING_FLAGS.map(([f, k]) => `  --${f.padEnd(18)} ${SETTING_HELP[k]} (default ${show(k)})`).join('\n');

function parseSetting(k: keyof TrainSettings, v: string): TrainSettings[keyof TrainSettings] {
  if (k === 'targets') return parseLoraTargets(v);
  if (k === 'repoShare') return parseRepoShare(v);
  if (k === 'schedule') {
    if (v !== 'linear' && v !== 'cosine') throw new UsageError(`--schedule must be linear or cosine, got "${v}"`);
    return v;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${SETTING_FLAGS.find((f) => f[1] === k)![0]} must be a number, got "${v}"`);
  return k === 'gpuMemoryBudget' ? n * 2 ** 30 : n;
}

/** The settings the flags change (the rest keep their defaults). */
export function settingsFrom(v: Args): Partial<TrainSettings> {
  const over: Partial<TrainSettings> = {};
  for (const [f, k] of SETTING_FLAGS) if (typeof v[f] === 'string') (over as Record<string, unknown>)[k] = parseSetting(k, v[f] as string);
  for (const [f, k, value] of BOOLEAN_FLAGS) if (v[f]) (over as Record<string, unknown>)[k] = value;
  return over;
}

/** The flag that sets a setting (for messages). */
export function flagOf(k: keyof TrainSettings): string {
  return `--${SETTING_FLAGS.find((f) => f[1] === k)?.[0] ?? BOOLEAN_FLAGS.find((f) => f[1] === k)?.[0] ?? k}`;
}

export type Say = (text: string, obj: object) => void;

/** Stage 1 over --source: the same import and filter as `homecoder filter` and the Sources/Filter pages. */
export async function stage1(v: Args, say: Say): Promise<TrainingFile[]> {
  const sources = (v.source as string[] | undefined) ?? [];
  if (!sources.length) return [];
  const imported = await importAndFilter(sources, {
    ...importOptions(v as SourceValues, sources),
    test: v['test-files'] as string[] | undefined,
  });
  const { summary } = imported;
  const h = summary.history;
  if (h) say(`history: ${h.accepted} of ${h.total} commits accepted`, { history: h });
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

/** The --chat and --pairs files (either may hold either shape; the flag says what the user meant). */
export async function supervisedFrom(v: Args): Promise<SupervisedFile[]> {
  const paths = [...((v.chat as string[] | undefined) ?? []), ...((v.pairs as string[] | undefined) ?? [])];
  const [prompt, completion] = [v['prompt-column'] as string | undefined, v['completion-column'] as string | undefined];
  if ((prompt === undefined) !== (completion === undefined))
    throw new UsageError('--prompt-column and --completion-column go together: name both CSV columns.');
  return readSupervisedPaths(paths, prompt !== undefined ? { prompt, completion: completion! } : undefined);
}

/** Some data to build from: sources, conversations or pairs. */
export function hasData(v: Args): boolean {
  return !!(v.source || v.chat || v.pairs);
}
