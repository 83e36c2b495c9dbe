// `homecoder train`: the whole fine-tuning pipeline headless, with the same code as the
// Train page: loss filter, dataset, training with checkpoints, evaluation; writes the
// best checkpoint's PEFT adapter and run.json into --out (which is also the run folder,
// so --resume continues an interrupted run).
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { nodeGpuDevice } from '../dawn.ts';
import { nodeFiles } from '../../model/storage/node-files.ts';
import { openRunModel } from '../../train/run-model.ts';
import { nodeRunFolder } from '../../train/node-run-folder.ts';
import { prepareRun, trainAndEvaluate } from '../../train/pipeline.ts';
import { readRun } from '../../train/run.ts';
import { folderLossCache, DEFAULT_LOSS_THRESHOLD } from '../../train/loss-filter.ts';
import { checkpointAdapterFiles } from '../../train/checkpoint.ts';
import { DEFAULT_SETTINGS, SETTING_HELP, type TrainSettings } from '../../train/settings.ts';
import { LORA_TARGETS, type LoraTarget } from '../../model/types.ts';
import { importAndFilter } from '../../data/node-pipeline.ts';
import type { TrainingFile } from '../../data/types.ts';
import { abortError, isAbort } from '../../progress.ts';

/** CLI flag → setting. */
const FLAGS: Array<[string, keyof TrainSettings]> = [
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
  ['early-stop', 'earlyStop'],
  ['gpu-memory', 'gpuMemoryBudget'],
];

const show = (k: keyof TrainSettings) =>
  k === 'gpuMemoryBudget'
    ? `${DEFAULT_SETTINGS[k] / 2 ** 30} GiB`
    : k === 'targets'
      ? DEFAULT_SETTINGS.targets.join(',')
      : String(DEFAULT_SETTINGS[k]);

export const trainHelp = `Usage: homecoder train --model DIR --source PATH --out DIR [settings] [--json]
       homecoder train --model DIR --out DIR --resume [--json]

Fine-tunes a LoRA adapter on the files of a folder: stage-2 loss filter, dataset (FIM,
packing, train/test split), training with test loss and checkpoints, then the base model
against the best checkpoint on the test files (test loss, FIM exact match). Writes the
best checkpoint's adapter (adapter_config.json + adapter_model.safetensors) and run.json
(per-step losses, test losses, checkpoints, evaluation) into --out; the run's dataset and
checkpoints stay there too, so --resume continues a run that was interrupted.

  --model DIR          Hugging Face model folder
  --source SRC         a folder, a file, an archive (.zip, .tar, .tar.gz, .tar.bz2) or an
                       http(s) git URL (token from HOMECODER_GIT_TOKEN); repeatable. Files go
                       through the stage-1 filter first, as \`homecoder filter\` shows
  --out DIR            run folder and output
  --resume             continue the run in --out from its latest checkpoint
  --test-files GLOB    paths matching this glob are the test set (repeatable; default: a seeded choice)
  --chat FILE          JSONL conversations {"messages":[...]} to mix in (model's chat template)
  --loss-threshold X   stage-2 filter: reject files whose mean loss is above X nats (default ${DEFAULT_LOSS_THRESHOLD})
  --no-loss-filter     skip the stage-2 filter
  --low-memory         ${SETTING_HELP.lowMemory}
  --no-eval            skip the evaluation after training
  --json               print one JSON object per line (progress, steps, the final run)
${FLAGS.map(([f, k]) => `  --${f.padEnd(18)} ${SETTING_HELP[k]} (default ${show(k)})`).join('\n')}
`;

function parseSetting(k: keyof TrainSettings, v: string): TrainSettings[keyof TrainSettings] {
  if (k === 'targets') {
    const t = v.split(',').map((x) => x.trim());
    const bad = t.filter((x) => !(LORA_TARGETS as readonly string[]).includes(x));
    if (bad.length) throw new Error(`--targets: unknown module ${bad.join(', ')}; choose from ${LORA_TARGETS.join(', ')}`);
    return t as LoraTarget[];
  }
  if (k === 'schedule') {
    if (v !== 'linear' && v !== 'cosine') throw new Error(`--schedule must be linear or cosine, got "${v}"`);
    return v;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${FLAGS.find((f) => f[1] === k)![0]} must be a number, got "${v}"`);
  return k === 'gpuMemoryBudget' ? n * 2 ** 30 : n;
}

const fmtTime = (s: number) =>
  s >= 3600
    ? `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`
      : `${Math.round(s)}s`;

export async function trainCommand(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean'; default?: boolean; multiple?: boolean }> = {
    model: { type: 'string' },
    source: { type: 'string', multiple: true },
    out: { type: 'string' },
    resume: { type: 'boolean' },
    'test-files': { type: 'string', multiple: true },
    chat: { type: 'string' },
    'loss-threshold': { type: 'string' },
    'no-loss-filter': { type: 'boolean' },
    'low-memory': { type: 'boolean' },
    'no-eval': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  };
  for (const [f] of FLAGS) options[f] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options });
  const v = values as Record<string, string | string[] | boolean | undefined>;
  if (v.help) {
    process.stdout.write(trainHelp);
    return 0;
  }
  if (!v.model || !v.out || (!v.source && !v.resume)) {
    process.stderr.write(`homecoder train: --model, --out and --source (or --resume) are required.\n\n${trainHelp}`);
    return 2;
  }
  const json = !!v.json;
  const say = (text: string, obj: object) => console.log(json ? JSON.stringify(obj) : text);
  const over: Partial<TrainSettings> = {};
  for (const [f, k] of FLAGS) if (typeof v[f] === 'string') (over as Record<string, unknown>)[k] = parseSetting(k, v[f] as string);
  if (v['low-memory']) over.lowMemory = true;
  const out = resolve(v.out as string);
  const run = nodeRunFolder(out);
  let files: TrainingFile[] = [];
  if (v.source) {
    // Stage 1: the same import and filter as `homecoder filter` and the Sources/Filter pages.
    const imported = await importAndFilter(v.source as string[], {
      test: v['test-files'] as string[] | undefined,
      token: process.env.HOMECODER_GIT_TOKEN,
    });
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
    if (summary.accepted === 0) throw new Error(summary.explanation ?? 'No file was accepted by the filter.');
    files = imported.accepted;
  }

  const gpu = await nodeGpuDevice();
  let lastPhase = '';
  const onProgress = (p: { phase: string; done: number; total: number; detail?: string }) => {
    if (p.phase === 'training') return; // steps are printed by onUpdate
    if (json) console.log(JSON.stringify({ progress: p }));
    else if (p.phase !== lastPhase || p.done === p.total) console.log(`${p.phase} ${p.done}/${p.total}${p.detail ? ` ${p.detail}` : ''}`);
    lastPhase = p.phase;
  };
  // Ctrl-C stops between steps and saves a checkpoint there; --resume continues.
  const ctl = new AbortController();
  const onSigint = () => ctl.abort(abortError('Stopped (Ctrl-C).'));
  process.once('SIGINT', onSigint);
  const engine = await openRunModel(gpu.device, nodeFiles(v.model as string), { onProgress });
  try {
    const modelLabel = basename(resolve(v.model as string));
    if (!v.resume) {
      const existing = await readRun(run);
      if (existing) throw new Error(`${out} already holds a run (${existing.status}); use --resume to continue it, or another --out.`);
      const threshold = v['loss-threshold'] ? Number(v['loss-threshold']) : DEFAULT_LOSS_THRESHOLD;
      const { record, decisions } = await prepareRun(engine, files, over, run, {
        runId: basename(out),
        model: { id: resolve(v.model as string), label: modelLabel },
        chatJsonl: v.chat ? await readFile(v.chat as string, 'utf8') : undefined,
        lossFilter: v['no-loss-filter']
          ? false
          : {
              threshold,
              cache: await folderLossCache(nodeRunFolder(join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'homecoder'))),
            },
        onProgress,
        signal: ctl.signal,
      });
      for (const d of decisions.filter((x) => !x.accepted))
        say(`rejected ${d.path}: ${d.reason}${d.loss !== null ? ` (loss ${d.loss.toFixed(3)})` : ''}`, { rejected: d });
      const ds = record.dataset;
      say(
        `dataset: ${ds.trainFiles} train files (${ds.trainTokens} tokens), ${ds.testFiles} test files (${ds.testTokens} tokens, ${ds.split}); ` +
          `${record.steps} steps${record.stepsAuto ? ' (automatic)' : ''}; GPU memory planned ${(record.plan.total / 2 ** 20).toFixed(1)} MiB`,
        { dataset: ds, steps: record.steps, steps_auto: record.stepsAuto, plan: record.plan },
      );
    }
    const record = await trainAndEvaluate(engine, run, {
      evaluate: !v['no-eval'],
      signal: ctl.signal,
      onProgress,
      onUpdate: (_r, l) =>
        say(
          `step ${l.step}/${l.steps}  loss ${l.loss.toFixed(4)}  test ${l.testLoss?.toFixed(4) ?? '-'}  lr ${l.lr.toExponential(2)}  ` +
            `${l.tokensPerSecond.toFixed(0)} tok/s  ETA ${fmtTime(l.etaSeconds)}  GPU ${(l.gpuMemory / 2 ** 20).toFixed(1)} MiB`,
          { step: l },
        ),
    });
    if (record.best !== null)
      for (const [name, bytes] of await checkpointAdapterFiles(run, record.best)) await writeFile(join(out, name), bytes);
    const e = record.evaluation;
    if (e)
      say(
        `evaluation on ${e.files} test files: test loss base ${e.base.testLoss.toFixed(4)} vs step ${e.tuned.step} ${e.tuned.testLoss.toFixed(4)}; ` +
          `FIM exact match base ${(100 * e.base.exactMatch).toFixed(0)}% vs ${(100 * e.tuned.exactMatch).toFixed(0)}%`,
        { evaluation: e },
      );
    say(
      `${record.status}: best checkpoint step ${record.best}; wrote ${join(out, 'adapter_model.safetensors')} and ${join(out, 'run.json')}`,
      { done: { status: record.status, best: record.best, out } },
    );
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
