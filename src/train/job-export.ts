// "Export as a job": a training run as a folder a GPU cluster runs with PEFT + Transformers on
// accelerate — the dataset as JSONL of token ids and loss masks per packed block (the blocks
// Homecoder trains on), the tokenizer, the settings, train.py, FSDP and DeepSpeed ZeRO-3
// configs, pinned requirements, a README. From a run folder (its run.json and stored dataset),
// or from the training files and settings alone, with the same dataset builder as a run and
// without the GPU: a job is meant for runs that do not fit it.
import { buildDataset, type Dataset } from '../data/dataset/build.ts';
import type { SupervisedFile } from '../data/dataset/supervised.ts';
import { decodeDataset } from '../data/dataset/codec.ts';
import { blockRange, usableBlocks, type PackedTokens } from '../data/dataset/pack.ts';
import type { TrainingFile } from '../data/types.ts';
import type { ByteSink, SinkFactory } from '../model/export/sink.ts';
import type { ModelFiles } from '../model/storage/files.ts';
import type { Progress } from '../progress.ts';
import { RunError } from './errors.ts';
import { DEEPSPEED_YAML, FSDP_YAML, jobReadme, REQUIREMENTS, TRAIN_PY } from './job-files.ts';
import { datasetInputs, openTextModel } from './dataset-preview.ts';
import type { RunFolder } from './run-folder.ts';
import { readJsonFile } from './run-folder.ts';
import { DATASET_FILE, RUN_FILE, resolveSteps } from './run.ts';
import type { RunRecord } from './run-record.ts';
import type { TrainSettings } from './settings.ts';

const JOB_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'config.json'];

/** What a job reproduces: the run's identity, settings, steps and dataset. */
export interface JobContent {
  id: string;
  model: { id: string; label: string };
  settings: TrainSettings;
  steps: number;
  dataset: Pick<Dataset, 'train' | 'test' | 'stats'>;
}

export interface JobOptions {
  /** The base model's folder name, for the README's commands. */
  baseName: string;
  open: SinkFactory;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/** One JSONL line per block the trainer can learn from: {"input_ids": […], "loss_mask": […]}. */
export function blockLine(p: PackedTokens, i: number): string {
  const [a, b] = blockRange(p, i);
  return JSON.stringify({ input_ids: Array.from(p.ids.subarray(a, b)), loss_mask: Array.from(p.mask.subarray(a, b)) });
}

/** The blocks as JSONL, streamed in ~1 MiB pieces: a big dataset is never one string. */
async function writeBlocks(sink: ByteSink, p: PackedTokens, each: () => void): Promise<number> {
  const enc = new TextEncoder();
  const blocks = usableBlocks(p);
  let buf = '';
  for (const i of blocks) {
    buf += `${blockLine(p, i)}\n`;
    each();
    if (buf.length >= 1 << 20) {
      await sink.write(enc.encode(buf));
      buf = '';
    }
  }
  if (buf) await sink.write(enc.encode(buf));
  await sink.close();
  return blocks.length;
}

/** Writes the job's files through `o.open`; returns their names (paths inside the job folder). */
export async function writeJob(job: JobContent, model: ModelFiles, o: JobOptions): Promise<string[]> {
  const enc = new TextEncoder();
  const written: string[] = [];
  const put = async (name: string, data: Uint8Array | string) => {
    const sink = await o.open(name);
    await sink.write(typeof data === 'string' ? enc.encode(data) : data);
    await sink.close();
    written.push(name);
  };
  const total = usableBlocks(job.dataset.train).length + usableBlocks(job.dataset.test).length;
  let done = 0;
  const each = () => {
    done++;
    if (done % 256 === 0 || done === total) {
      if (o.signal?.aborted) throw o.signal.reason;
      o.onProgress?.({ phase: 'writing the job', done, total, detail: 'dataset' });
    }
  };
  const count: Record<string, number> = {};
  for (const [name, packed] of [
    ['train', job.dataset.train],
    ['test', job.dataset.test],
  ] as const) {
    count[name] = await writeBlocks(await o.open(`dataset/${name}.jsonl`), packed, each);
    written.push(`dataset/${name}.jsonl`);
  }
  for (const f of JOB_TOKENIZER_FILES) {
    const src = await model.open(f);
    if (src) await put(`tokenizer/${f}`, await src.read(0, src.size));
  }
  await put(
    'settings.json',
    `${JSON.stringify({ run: job.id, model: job.model, steps: job.steps, settings: job.settings, dataset: job.dataset.stats }, null, 2)}\n`,
  );
  await put('train.py', TRAIN_PY);
  await put('accelerate/fsdp.yaml', FSDP_YAML);
  await put('accelerate/deepspeed-zero3.yaml', DEEPSPEED_YAML);
  await put('requirements.txt', REQUIREMENTS);
  await put(
    'README.md',
    jobReadme({
      base: o.baseName,
      runId: job.id,
      steps: job.steps,
      batchSize: job.settings.batchSize,
      train: count.train,
      test: count.test,
    }),
  );
  return written;
}

/** A run folder (`homecoder train --out`, or a run in browser storage) as a job. */
export async function exportJob(run: RunFolder, model: ModelFiles, o: JobOptions): Promise<string[]> {
  const record = await readJsonFile<RunRecord>(run, RUN_FILE);
  if (!record) throw new RunError('RUN_NOT_FOUND', `No ${RUN_FILE} in the run folder: give the folder \`homecoder train --out\` wrote.`);
  const bytes = await run.read(DATASET_FILE);
  if (!bytes) throw new RunError('RUN_DATASET_LOST', 'This run has lost its dataset; start a new run.');
  const dataset = decodeDataset(bytes);
  return writeJob({ id: record.id, model: record.model, settings: record.settings, steps: record.steps, dataset }, model, o);
}

export interface JobFromFilesRequest {
  id: string;
  model: { id: string; label: string };
  /** The training files after stage 1 (a job has no stage-2 loss filter: it needs the model on a GPU). */
  files: TrainingFile[];
  settings: Partial<TrainSettings>;
  /** Conversations and prompt/completion pairs, as a run mixes them in. */
  supervised?: SupervisedFile[];
}

/**
 * A job from the training files and settings, without a run and without the GPU: only the
 * model's config and tokenizer are read. The dataset is built as a run builds it
 * (datasetInputs and buildDataset, as prepareRun: same seed, FIM, split and packing), the steps resolved as a run resolves them.
 */
export async function exportJobFromFiles(model: ModelFiles, req: JobFromFilesRequest, o: JobOptions): Promise<string[]> {
  const text = await openTextModel(model);
  const { settings, dataset: datasetSettings, supervised } = datasetInputs(text, req.settings, req.supervised ?? []);
  const dataset = await buildDataset(req.files, text.tokenizer, datasetSettings, {
    supervised,
    signal: o.signal,
    onProgress: o.onProgress,
  });
  const { steps } = resolveSteps(settings, dataset);
  return writeJob({ id: req.id, model: req.model, settings, steps, dataset }, model, o);
}
