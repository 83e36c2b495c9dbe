// `homecoder train`: the whole fine-tuning pipeline headless, with the same code as the
// Train page: loss filter, dataset, training with checkpoints, evaluation; writes the
// best checkpoint's PEFT adapter and run.json into --out (which is also the run folder,
// so --resume continues an interrupted run).
import { writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { nodeGpuDevice } from '../dawn.ts';
import { applyKernels, KERNELS_HELP, KERNELS_OPTION, parseKernelsOption } from '../kernels-option.ts';
import { nodeFiles } from '../../model/storage/node-files.ts';
import { openRunModel, type OpenedRunModel } from '../../train/run-model.ts';
import { nodeRunFolder } from '../../train/node-run-folder.ts';
import { prepareRun, trainAndEvaluate } from '../../train/pipeline.ts';
import { readRun, type LiveProgress } from '../../train/run.ts';
import type { RunRecord } from '../../train/run-record.ts';
import type { RunFolder } from '../../train/run-folder.ts';
import { formatDuration } from '../../train/eta.ts';
import { folderLossCache, DEFAULT_LOSS_THRESHOLD } from '../../train/loss-filter.ts';
import { checkpointAdapterFiles } from '../../train/checkpoint.ts';
import { validateSettings, type TrainSettings } from '../../train/settings.ts';
import { RunError } from '../../train/errors.ts';
import {
  dataHelp,
  dataOptions,
  flagOf,
  hasData,
  settingsFrom,
  settingsHelp,
  stage1,
  supervisedFrom,
  type ArgOptions,
  type Args,
  type Say,
} from '../data-args.ts';
import type { TrainingFile } from '../../data/types.ts';
import { describeBadLine } from '../../data/dataset/supervised.ts';
import { abortError, isAbort, type Progress } from '../../progress.ts';
import { UsageError } from '../../errors.ts';

export const trainHelp = `Usage: homecoder train --model DIR --source PATH --out DIR [settings] [--json]
       homecoder train --model DIR --out DIR --resume [--json]

Fine-tunes a LoRA adapter on the files of a folder (and on conversations or prompt/completion
pairs): stage-2 loss filter, dataset (FIM, packing, train/test split), training with test loss
and checkpoints, then the base model against the best checkpoint on the test files (test loss,
FIM exact match). Writes the best checkpoint's adapter (adapter_config.json +
adapter_model.safetensors) and run.json (per-step losses, test losses, checkpoints, evaluation)
into --out; the run's dataset and checkpoints stay there too, so --resume continues a run that
was interrupted. \`homecoder dataset\` with the same flags prints what the run trains on.

${dataHelp}
  --out DIR            run folder and output
  --resume             continue the run in --out from its latest checkpoint
  --loss-threshold X   stage-2 filter: reject files whose mean loss is above X nats, or "auto" (default):
                       ${DEFAULT_LOSS_THRESHOLD} for a real code model, else a threshold from the model's own losses
  --no-loss-filter     skip the stage-2 filter
  --no-eval            skip the evaluation after training
  --json               print one JSON object per line (progress, steps, the final run)
${KERNELS_HELP}
${settingsHelp}
`;

/** A resume continues the run as it was started: same base model, same settings. */
async function checkResume(run: RunFolder, out: string, modelLabel: string, over: Partial<TrainSettings>): Promise<void> {
  const changed = Object.keys(over) as Array<keyof TrainSettings>;
  if (changed.length)
    throw new RunError(
      'RUN_SETTINGS_FIXED',
      `--resume continues the run with the settings it started with; drop ${changed.map(flagOf).join(', ')}, or start a new run in another --out.`,
    );
  const record = await readRun(run);
  if (!record) throw new RunError('RUN_CORRUPT', `${out} holds no run to resume (no run.json); start one without --resume.`);
  if (record.model.label !== modelLabel)
    throw new RunError(
      'RUN_OTHER_MODEL',
      `The run in ${out} was started on ${record.model.label} (${record.model.id}), not ${modelLabel}: resume it with --model ${record.model.id}.`,
    );
}

function parseTrainArgs(argv: string[]): Args {
  const options: ArgOptions = {
    ...dataOptions(),
    out: { type: 'string' },
    resume: { type: 'boolean' },
    'loss-threshold': { type: 'string' },
    'no-loss-filter': { type: 'boolean' },
    'no-eval': { type: 'boolean' },
    ...KERNELS_OPTION,
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  };
  return parseArgs({ args: argv, options }).values as Args;
}

/** Prints each phase once (and its end); steps are printed by onUpdate. */
function progressPrinter(json: boolean): (p: Progress) => void {
  let lastPhase = '';
  return (p) => {
    if (p.phase === 'training') return;
    if (json) console.log(JSON.stringify({ progress: p }));
    else if (p.phase !== lastPhase || p.done === p.total) console.log(`${p.phase} ${p.done}/${p.total}${p.detail ? ` ${p.detail}` : ''}`);
    lastPhase = p.phase;
  };
}

/**
 * --loss-threshold: nats, or 'auto' (the default) as on the Train page: Refact's 3 nats for a
 * real code model, a threshold from the model's own losses for a random or unrelated one.
 */
function lossThreshold(v: Args): number | 'auto' {
  const given = v['loss-threshold'] as string | undefined;
  if (given === undefined || given === 'auto') return 'auto';
  const n = Number(given);
  if (!(n > 0) || !Number.isFinite(n))
    throw new UsageError(`--loss-threshold must be a positive number of nats or "auto", not "${given}".`);
  return n;
}

/** A new run in `out`: the loss filter, the dataset and the plan, each reported. */
async function createFromFiles(
  engine: OpenedRunModel,
  files: TrainingFile[],
  v: Args,
  ctx: { over: Partial<TrainSettings>; out: string; run: RunFolder; say: Say; onProgress: (p: Progress) => void; signal: AbortSignal },
): Promise<void> {
  const { out, run, say } = ctx;
  const existing = await readRun(run);
  if (existing)
    throw new RunError('RUN_EXISTS', `${out} already holds a run (${existing.status}); use --resume to continue it, or another --out.`);
  const { record, decisions } = await prepareRun(engine, files, ctx.over, run, {
    runId: basename(out),
    model: { id: resolve(v.model as string), label: basename(resolve(v.model as string)) },
    supervised: await supervisedFrom(v),
    evaluate: !v['no-eval'],
    lossFilter: v['no-loss-filter']
      ? false
      : {
          threshold: lossThreshold(v),
          cache: await folderLossCache(nodeRunFolder(join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'homecoder'))),
        },
    onProgress: ctx.onProgress,
    signal: ctx.signal,
  });
  for (const d of decisions.filter((x) => !x.accepted))
    say(`rejected ${d.path}: ${d.reason}${d.loss !== null ? ` (loss ${d.loss.toFixed(3)})` : ''}`, { rejected: d });
  const lf = record.lossFilter;
  if (lf) say(`loss filter: kept ${lf.kept} of ${lf.files} files. ${lf.why}`, { loss_filter: lf });
  const ds = record.dataset;
  for (const b of record.badLines ?? []) say(`skipped ${describeBadLine(b)}`, { bad_line: b });
  const supervised =
    ds.chats || ds.pairs ? `, ${ds.chats} conversations and ${ds.pairs ?? 0} pairs (${ds.testExamples ?? 0} held out)` : '';
  const skipped = ds.badLines ? `, ${ds.badLines} bad lines skipped` : '';
  say(
    `dataset: ${ds.trainFiles} train files (${ds.trainTokens} tokens), ${ds.testFiles} test files (${ds.testTokens} tokens, ${ds.split})${supervised}${skipped}${ds.repoSequences ? `, ${ds.repoSequences} repository sequences of ${ds.repoFiles} files` : ''}; ${record.steps} steps${record.stepsAuto ? ' (automatic)' : ''}; GPU memory planned ${(record.plan.total / 2 ** 20).toFixed(1)} MiB`,
    { dataset: ds, steps: record.steps, steps_auto: record.stepsAuto, plan: record.plan },
  );
}

function stepLine(l: LiveProgress): string {
  return `step ${l.step}/${l.steps}  loss ${l.loss.toFixed(4)}  test ${l.testLoss?.toFixed(4) ?? '-'}  lr ${l.lr.toExponential(2)}  ${l.tokensPerSecond.toFixed(0)} tok/s  ETA ${formatDuration(l.etaSeconds)}  GPU ${(l.gpuMemory / 2 ** 20).toFixed(1)} MiB`;
}

/** The best checkpoint's adapter into `out`, and what the run ended with. */
async function writeResult(run: RunFolder, out: string, record: RunRecord, say: Say): Promise<void> {
  if (record.best !== null)
    for (const [name, bytes] of await checkpointAdapterFiles(run, record.best)) await writeFile(join(out, name), bytes);
  const e = record.evaluation;
  if (e)
    say(
      `evaluation on ${e.files} test files: test loss base ${e.base.testLoss.toFixed(4)} vs step ${e.tuned.step} ${e.tuned.testLoss.toFixed(4)}; FIM exact match base ${(100 * e.base.exactMatch).toFixed(0)}% vs ${(100 * e.tuned.exactMatch).toFixed(0)}%`,
      { evaluation: e },
    );
  say(
    `${record.status}: best checkpoint step ${record.best}; wrote ${join(out, 'adapter_model.safetensors')} and ${join(out, 'run.json')}`,
    {
      done: { status: record.status, best: record.best, out },
    },
  );
}

export async function trainCommand(argv: string[]): Promise<number> {
  const v = parseTrainArgs(argv);
  if (v.help) {
    process.stdout.write(trainHelp);
    return 0;
  }
  if (!v.model || !v.out || (!hasData(v) && !v.resume)) {
    process.stderr.write(`homecoder train: --model, --out and --source, --chat or --pairs (or --resume) are required.\n\n${trainHelp}`);
    return 2;
  }
  const json = !!v.json;
  const say: Say = (text, obj) => console.log(json ? JSON.stringify(obj) : text);
  const over = settingsFrom(v);
  const out = resolve(v.out as string);
  const run = nodeRunFolder(out);
  const modelLabel = basename(resolve(v.model as string));
  // Settings and the run folder are checked before any source is read or the GPU opened.
  if (v.resume) await checkResume(run, out, modelLabel, over);
  else {
    validateSettings(over);
    lossThreshold(v); // checked here too, before any source is read
  }
  const kernels = parseKernelsOption(v.kernels as string | undefined);
  const files = await stage1(v, say);

  const gpu = await nodeGpuDevice();
  const onProgress = progressPrinter(json);
  // Ctrl-C stops between steps and saves a checkpoint there; --resume continues.
  const ctl = new AbortController();
  const onSigint = () => ctl.abort(abortError('Stopped (Ctrl-C).'));
  process.once('SIGINT', onSigint);
  const engine = await openRunModel(gpu.device, nodeFiles(v.model as string), { onProgress });
  await applyKernels(engine.runner, gpu.info, kernels);
  try {
    if (!v.resume) await createFromFiles(engine, files, v, { over, out, run, say, onProgress, signal: ctl.signal });
    const record = await trainAndEvaluate(engine, run, {
      evaluate: v['no-eval'] ? false : undefined,
      signal: ctl.signal,
      onProgress,
      onUpdate: (_r, l) => say(stepLine(l), { step: l }),
    });
    await writeResult(run, out, record, say);
    return 0;
  } catch (err) {
    if (!isAbort(err)) throw err;
    const r = await readRun(run);
    say(
      `stopped at step ${r?.log.at(-1)?.step ?? 0} of ${r?.steps ?? '?'}; continue with: homecoder train --model ${v.model} --out ${v.out} --resume`,
      { stopped: { step: r?.log.at(-1)?.step ?? 0, steps: r?.steps } },
    );
    return 130;
  } finally {
    process.off('SIGINT', onSigint);
    engine.close();
    gpu.device.destroy();
  }
}
