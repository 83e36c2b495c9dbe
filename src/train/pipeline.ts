// The whole run as one pipeline, shared by the training worker and `homecoder train`:
// settings and memory check → stage-2 loss filter → dataset → run files → training →
// evaluation of the best checkpoint against the base model.
import type { Progress } from '../progress.ts';
import type { TrainingFile } from '../data/types.ts';
import { buildDataset } from '../data/dataset/build.ts';
import { chatTemplateOf, parseChatJsonl, renderChats } from '../data/dataset/chat.ts';
import { DatasetError } from '../data/errors.ts';
import { autoSteps, validateSettings, type TrainSettings } from './settings.ts';
import { STEP_FORWARDS } from './eta.ts';
import { checkMemory } from './memory-check.ts';
import { createRun, MemoryCheckError, readRun, readRunDataset, trainRun, RUN_FILE, type TrainOptions } from './run.ts';
import { LOSS_WINDOW, runLossFilter, type LossCache, type LossDecision } from './loss-filter.ts';
import { evaluateCheckpoint } from './evaluate.ts';
import { readCheckpointAdapter } from './checkpoint.ts';
import { readJsonFile, writeJsonFile, type RunFolder } from './run-folder.ts';
import type { OpenedRunModel } from './run-model.ts';
import type { RunRecord } from './run-record.ts';
import { RunError } from './errors.ts';

export const TEST_FILES = 'test-files.json';

export interface PrepareOptions {
  runId: string;
  model: { id: string; label: string };
  /** JSONL conversations to mix in (rendered with the model's chat template). */
  chatJsonl?: string;
  /** Stage-2 filter: threshold in nats or 'auto' (chosen from the model's losses), or false to skip it. */
  lossFilter?: { threshold: number | 'auto'; cache?: LossCache } | false;
  /** false: the run skips the final evaluation, also when resumed. */
  evaluate?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface Prepared {
  record: RunRecord;
  decisions: LossDecision[];
  /** Files the loss filter measured now (not cached), their tokens and time: the rate for the next estimate. */
  measured?: { files: number; tokens: number; ms: number };
}

export async function prepareRun(
  engine: OpenedRunModel,
  files: TrainingFile[],
  over: Partial<TrainSettings>,
  run: RunFolder,
  o: PrepareOptions,
): Promise<Prepared> {
  const config = engine.model.config;
  const settings = validateSettings(over, config.maxPositionEmbeddings);
  // The memory check comes first: nothing is tokenized or allocated for a run that cannot fit.
  const check = checkMemory(config, settings, engine.limits);
  if (!check.fits) throw new MemoryCheckError(check);
  let decisions: LossDecision[] = [];
  let accepted = files;
  let summary: RunRecord['lossFilter'];
  let measured: Prepared['measured'];
  if (o.lossFilter !== false) {
    const t0 = performance.now();
    const chars = files.reduce((a, f) => a + f.text.length, 0);
    const result = await runLossFilter(engine, engine.tokenizer, files, {
      modelId: o.model.id,
      threshold: o.lossFilter?.threshold,
      seqLen: LOSS_WINDOW,
      cache: o.lossFilter?.cache,
      signal: o.signal,
      onProgress: o.onProgress,
      etaAfter: (msPerToken) => estimateTrainingSeconds(settings, chars, msPerToken),
    });
    decisions = result.decisions;
    measured = result.measured;
    const keep = new Set(decisions.filter((d) => d.accepted).map((d) => `${d.source}\0${d.path}`));
    accepted = files.filter((f) => keep.has(`${f.source}\0${f.path}`));
    summary = {
      threshold: result.choice.threshold,
      why: result.choice.why,
      files: files.length,
      kept: accepted.length,
      measuredFiles: result.measured.files,
      cachedFiles: decisions.filter((d) => d.cached).length,
      seconds: (performance.now() - t0) / 1000,
    };
    if (accepted.length < files.length && accepted.length < 2) {
      const rejected = decisions.filter((d) => !d.accepted);
      throw new DatasetError(
        'TOO_FEW_FILES',
        `The loss filter rejected ${rejected.length} of ${files.length} files (${rejected
          .slice(0, 3)
          .map((d) => `${d.path}: ${d.reason}${d.loss !== null ? ` ${d.loss.toFixed(2)}` : ''}`)
          .join('; ')}${rejected.length > 3 ? '; …' : ''}), leaving ${accepted.length}: raise the loss threshold or add sources.`,
      );
    }
  }
  let chats: string[] | undefined;
  if (o.chatJsonl) {
    const template = chatTemplateOf(engine.tokenizerConfig);
    if (!template)
      throw new DatasetError(
        'BAD_CHAT',
        "This model's tokenizer has no chat template, so conversations cannot be rendered. Use code files only, or an instruct model's tokenizer.",
      );
    chats = renderChats(template, parseChatJsonl(o.chatJsonl));
  }
  const dataset = await buildDataset(
    accepted,
    engine.tokenizer,
    {
      seqLen: settings.seqLen,
      seed: settings.seed,
      fim: { fimRate: settings.fimRate, spmRate: settings.fimSpmRate, lineSplitRate: 0.9 },
      testFraction: settings.testFraction,
      repoShare: settings.repoShare,
    },
    { chats, signal: o.signal, onProgress: o.onProgress },
  );
  const record = await createRun(run, { id: o.runId, model: o.model, settings, dataset, engine });
  record.rejected = decisions.filter((d) => !d.accepted).map((d) => ({ path: d.path, reason: d.reason ?? '', loss: d.loss }));
  if (summary) record.lossFilter = summary;
  if (o.evaluate === false) record.evaluate = false;
  await writeJsonFile(run, RUN_FILE, record);
  const testSet = new Set(dataset.testPaths);
  await writeJsonFile(
    run,
    TEST_FILES,
    accepted.filter((f) => testSet.has(f.path)).map((f) => ({ path: f.path, text: f.text })),
  );
  return { record, decisions, measured };
}

/**
 * Before the dataset exists, the training a run will do, from the loss filter's forward time per
 * token: ≈4 characters a token, the automatic step count if steps is 0, a step ≈ STEP_FORWARDS
 * forwards of batch size sequences, and the test losses every evalEvery steps (≤ 64 blocks).
 */
export function estimateTrainingSeconds(s: TrainSettings, chars: number, msPerToken: number): number {
  const tokens = chars / 4;
  const trainBlocks = Math.max(1, Math.ceil((tokens * (1 - s.testFraction)) / s.seqLen));
  const testBlocks = Math.min(64, Math.max(1, Math.ceil((tokens * s.testFraction) / s.seqLen)));
  const steps = s.steps || autoSteps(trainBlocks, s.batchSize);
  const stepMs = STEP_FORWARDS * s.batchSize * s.seqLen * msPerToken;
  const evalMs = testBlocks * s.seqLen * msPerToken;
  return (steps * stepMs + (Math.floor(steps / s.evalEvery) + 1) * evalMs) / 1000;
}

/** Trains (or resumes) the run, then evaluates its best checkpoint against the base model. */
export async function trainAndEvaluate(
  engine: OpenedRunModel,
  run: RunFolder,
  o: TrainOptions & { evaluate?: boolean } = {},
): Promise<RunRecord> {
  let record = await trainRun(engine, run, o);
  // Unless told, a resumed run evaluates (or not) as it was started.
  const evaluate = o.evaluate ?? record.evaluate !== false;
  if (evaluate && record.best !== null) record = await evaluateRun(engine, run, o);
  return record;
}

export async function evaluateRun(
  engine: OpenedRunModel,
  run: RunFolder,
  o: { signal?: AbortSignal; onProgress?: (p: Progress) => void; maxTestBlocks?: number } = {},
): Promise<RunRecord> {
  const record = (await readRun(run))!;
  if (record.best === null) throw new RunError('NO_CHECKPOINT', 'This run has no checkpoint with a test loss yet: train it further first.');
  const data = await readRunDataset(run);
  const files = (await readJsonFile<Array<{ path: string; text: string }>>(run, TEST_FILES)) ?? [];
  const peft = await readCheckpointAdapter(run, record.best, engine.model.config);
  record.evaluation = await evaluateCheckpoint(
    engine,
    engine.tokenizer,
    { files, blocks: data.test },
    { step: record.best, lora: peft.lora, layers: peft.layers },
    { seed: record.settings.seed, signal: o.signal, onProgress: o.onProgress, maxTestBlocks: o.maxTestBlocks },
  );
  await writeJsonFile(run, RUN_FILE, record);
  return record;
}
