// "Export as a job": a training run (its run.json and the dataset it stored) as a folder a
// GPU cluster runs with PEFT + Transformers on accelerate — the dataset as JSONL of token ids
// and loss masks per packed block (the blocks Homecoder trains on), the tokenizer, the
// settings, train.py, FSDP and DeepSpeed ZeRO-3 configs, pinned requirements, a README.
import { decodeDataset } from '../data/dataset/codec.ts';
import { blockRange, usableBlocks, type PackedTokens } from '../data/dataset/pack.ts';
import type { SinkFactory } from '../model/export/sink.ts';
import type { ModelFiles } from '../model/storage/files.ts';
import { RunError } from './errors.ts';
import type { RunFolder } from './run-folder.ts';
import { readJsonFile } from './run-folder.ts';
import { DATASET_FILE, RUN_FILE } from './run.ts';
import type { RunRecord } from './run-record.ts';
import { DEEPSPEED_YAML, FSDP_YAML, jobReadme, REQUIREMENTS, TRAIN_PY } from './job-files.ts';

const JOB_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'config.json'];

/** One JSONL line per block the trainer can learn from: {"input_ids": […], "loss_mask": […]}. */
export function blocksJsonl(p: PackedTokens): string {
  const lines: string[] = [];
  for (const i of usableBlocks(p)) {
    const [a, b] = blockRange(p, i);
    lines.push(JSON.stringify({ input_ids: Array.from(p.ids.subarray(a, b)), loss_mask: Array.from(p.mask.subarray(a, b)) }));
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export async function exportJob(run: RunFolder, model: ModelFiles, baseName: string, open: SinkFactory): Promise<string[]> {
  const record = await readJsonFile<RunRecord>(run, RUN_FILE);
  if (!record) throw new RunError('RUN_NOT_FOUND', `No ${RUN_FILE} in the run folder: give the folder \`homecoder train --out\` wrote.`);
  const bytes = await run.read(DATASET_FILE);
  if (!bytes) throw new RunError('RUN_DATASET_LOST', 'This run has lost its dataset; start a new run.');
  const dataset = decodeDataset(bytes);
  const enc = new TextEncoder();
  const written: string[] = [];
  const put = async (name: string, data: Uint8Array | string) => {
    const sink = await open(name);
    await sink.write(typeof data === 'string' ? enc.encode(data) : data);
    await sink.close();
    written.push(name);
  };
  const train = blocksJsonl(dataset.train);
  const test = blocksJsonl(dataset.test);
  await put('dataset/train.jsonl', train);
  await put('dataset/test.jsonl', test);
  for (const f of JOB_TOKENIZER_FILES) {
    const src = await model.open(f);
    if (src) await put(`tokenizer/${f}`, await src.read(0, src.size));
  }
  await put(
    'settings.json',
    `${JSON.stringify({ run: record.id, model: record.model, steps: record.steps, settings: record.settings, dataset: record.dataset }, null, 2)}\n`,
  );
  await put('train.py', TRAIN_PY);
  await put('accelerate/fsdp.yaml', FSDP_YAML);
  await put('accelerate/deepspeed-zero3.yaml', DEEPSPEED_YAML);
  await put('requirements.txt', REQUIREMENTS);
  const count = (s: string) => (s ? s.trimEnd().split('\n').length : 0);
  await put(
    'README.md',
    jobReadme({
      base: baseName,
      runId: record.id,
      steps: record.steps,
      batchSize: record.settings.batchSize,
      train: count(train),
      test: count(test),
    }),
  );
  return written;
}
