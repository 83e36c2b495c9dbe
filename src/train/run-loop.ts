// The step loop of a training run (run.ts sets it up on the GPU): the schedule, test loss
// every N steps, checkpoints every N steps and every M minutes (and when asked, e.g. as the
// tab is hidden), early stop, Stop between steps or test blocks with a checkpoint where it
// stopped, and live figures with an ETA. A checkpoint only reads the GPU's state, so when and
// how often one is written never changes the data order or the losses.
import type { GpuLora } from '../gpu/lora.ts';
import type { LoraTrainer, StepResult } from '../gpu/trainer.ts';
import type { Transformer } from '../gpu/transformer.ts';
import { abortError, isAbort } from '../progress.ts';
import type { Dataset } from '../data/dataset/build.ts';
import type { TrainSettings } from './settings.ts';
import { learningRate } from './schedule.ts';
import { BlockSampler } from './sampler.ts';
import { packedLoss } from './eval-loss.ts';
import { saveCheckpoint, writeAdapterMeta } from './checkpoint.ts';
import { bestCheckpoint, type RunRecord } from './run-record.ts';
import type { RunFolder } from './run-folder.ts';
import { EtaClock, type RunShape } from './eta.ts';
import { usableBlocks } from '../data/dataset/pack.ts';
import { TrainingError } from './errors.ts';
import type { LiveProgress, RunModel, TrainOptions } from './run.ts';

/** AdamW constants that are not user settings (Refact's betas and epsilon). */
const ADAM = { beta1: 0.9, beta2: 0.95, eps: 1e-6 };

/** What the loop trains with: the run, its data, and the adapter and model on the GPU. */
export interface RunParts {
  engine: RunModel;
  run: RunFolder;
  record: RunRecord;
  data: Dataset;
  tf: Transformer;
  adapter: GpuLora;
  /** Its `step` is the last step done (the checkpoint resumed from, or 0). */
  trainer: LoraTrainer;
  opts: TrainOptions;
  /** Writes the record (run.json). */
  save: () => Promise<void>;
}

export class RunLoop {
  private readonly s: TrainSettings;
  private readonly sampler: BlockSampler;
  private readonly eta = new EtaClock();
  /** When the last checkpoint was written (or the loop started), for checkpoints by time. */
  private lastCheckpointAt = performance.now();

  /** Test blocks measured per test loss (for the ETA). */
  private readonly testBlocks: number;

  constructor(private readonly p: RunParts) {
    this.s = p.record.settings;
    this.testBlocks = Math.min(usableBlocks(p.data.test).length, p.opts.maxTestBlocks ?? Infinity);
    this.sampler = new BlockSampler(p.data.train, this.s.seed);
  }

  /** Trains to the last step or an early stop; rejects with an AbortError after a Stop. */
  async run(): Promise<RunRecord> {
    const { record, trainer } = this.p;
    record.status = 'running';
    delete record.error;
    try {
      if (!record.evals.some((e) => e.step === 0)) record.evals.unshift({ step: 0, testLoss: await this.testLoss(0, 'before training') });
      await this.p.save();
      for (let step = trainer.step + 1; step <= record.steps; step++) {
        await this.stopIfAborted();
        if (await this.step(step)) break;
      }
    } catch (err) {
      // A Stop seen inside a step's test loss: keep what was trained, as between steps.
      if (isAbort(err) && this.p.opts.signal?.aborted) await this.stopIfAborted();
      throw err;
    }
    if (record.status === 'running') {
      // Resumed at (or past) its last step: nothing was left to train.
      record.status = 'done';
      await this.p.save();
    }
    return record;
  }

  /** One step with what is due after it; true when the run stops early there. */
  private async step(step: number): Promise<boolean> {
    const { record } = this.p;
    const { res, lr, ms } = await this.train(step);
    const last = step === record.steps;
    const atCheckpoint = step % this.s.checkpointEvery === 0 || last;
    if (step % this.s.evalEvery === 0 || atCheckpoint)
      record.evals.push({ step, testLoss: await this.testLoss(step, `after step ${step}`) });
    const byTime = (this.s.checkpointMinutes ?? 0) > 0 && performance.now() - this.lastCheckpointAt >= this.s.checkpointMinutes * 60_000;
    const asked = this.p.opts.checkpointRequested?.() ?? false;
    const stopEarly = this.earlyStopDue(step, last);
    if (atCheckpoint || byTime || asked || stopEarly)
      await this.checkpoint(step, res.loss, record.evals.at(-1)!.step === step ? this.lastTest() : null);
    if (last) record.status = 'done';
    if (stopEarly) record.status = 'early-stopped';
    await this.p.save();
    this.report(step, res, lr, ms);
    return stopEarly;
  }

  private async train(step: number): Promise<{ res: StepResult; lr: number; ms: number }> {
    const { record, trainer } = this.p;
    const lr = learningRate(step, record.steps, this.s);
    const t0 = performance.now();
    const res = await trainer.trainStep(this.sampler.batch(step, this.s.batchSize), {
      lr,
      ...ADAM,
      weightDecay: this.s.weightDecay,
      maxGradNorm: this.s.maxGradNorm,
    });
    const ms = performance.now() - t0;
    this.eta.step(ms);
    if (!Number.isFinite(res.loss)) throw new TrainingError(res.loss, step);
    record.log.push({ step, loss: res.loss, lr, gradNorm: res.gradNorm, tokens: res.tokens, ms });
    return { res, lr, ms };
  }

  /** The test-set loss after `step`, timed for the ETA, with progress per block. */
  private async testLoss(step: number, detail: string): Promise<number> {
    const t0 = performance.now();
    const { tf, engine, data, opts } = this.p;
    const report = (done: number, total: number) =>
      opts.onProgress?.({
        phase: 'test loss',
        done,
        total,
        detail,
        rate: done ? `${((1000 * done) / (performance.now() - t0)).toFixed(1)} blocks/s` : undefined,
        etaSeconds: this.secondsLeft(step, (performance.now() - t0) * ((total - done) / Math.max(done, 1))),
      });
    report(0, this.testBlocks);
    const loss = await packedLoss(tf, engine.runner, data.test, {
      signal: opts.signal,
      maxBlocks: opts.maxTestBlocks,
      onBlock: (done, total, ms) => {
        this.eta.block(ms);
        report(done, total);
      },
    });
    this.eta.evaluation(performance.now() - t0);
    return loss;
  }

  private shape(step: number): RunShape {
    return {
      step,
      steps: this.p.record.steps,
      evalEvery: this.s.evalEvery,
      checkpointEvery: this.s.checkpointEvery,
      batchSize: this.s.batchSize,
      testBlocks: this.testBlocks,
    };
  }

  /** Seconds until the run ends: what the clock predicts after `step`, plus `extraMs` of the current phase. */
  private secondsLeft(step: number, extraMs = 0): number | undefined {
    const rest = this.eta.secondsLeft(this.shape(step));
    return rest === undefined ? undefined : rest + extraMs / 1000;
  }

  private lastTest(): number | null {
    return this.p.record.evals.at(-1)?.testLoss ?? null;
  }

  private async checkpoint(step: number, trainLoss: number | null, testLoss: number | null): Promise<void> {
    const { run, adapter, trainer, record } = this.p;
    const t0 = performance.now();
    await saveCheckpoint(run, adapter, trainer, record.model.label, { step, dataPosition: step * this.s.batchSize, trainLoss, testLoss });
    record.checkpoints.push({ step, trainLoss, testLoss });
    record.best = bestCheckpoint(record);
    await writeAdapterMeta(run, record);
    this.lastCheckpointAt = performance.now();
    this.eta.checkpoint(this.lastCheckpointAt - t0);
  }

  /** Early stop: no better test loss for the configured share of the steps (never at the last step). */
  private earlyStopDue(step: number, last: boolean): boolean {
    const { record } = this.p;
    if (!(this.s.earlyStop > 0)) return false;
    const best = record.evals.reduce((b, e) => (e.testLoss < b.testLoss ? e : b), record.evals[0]);
    return step - best.step >= Math.max(1, Math.ceil(this.s.earlyStop * record.steps)) && !last;
  }

  /** After a Stop: a checkpoint at the last step done (if it has none), then an AbortError. */
  private async stopIfAborted(): Promise<void> {
    const { record, opts } = this.p;
    if (!opts.signal?.aborted) return;
    const last = record.log.at(-1);
    if (last && !record.checkpoints.some((c) => c.step === last.step)) await this.checkpoint(last.step, last.loss, null);
    record.status = 'stopped';
    await this.p.save();
    throw abortError(opts.signal.reason);
  }

  private report(step: number, res: StepResult, lr: number, ms: number): void {
    const { record, engine, opts } = this.p;
    const live: LiveProgress = {
      step,
      steps: record.steps,
      loss: res.loss,
      testLoss: this.lastTest(),
      lr,
      tokensPerSecond: res.tokens / (ms / 1000),
      etaSeconds: this.secondsLeft(step) ?? 0,
      gpuMemory: engine.memory.report().total,
    };
    opts.onProgress?.({
      phase: 'training',
      done: step,
      total: record.steps,
      detail: `loss ${res.loss.toFixed(4)}`,
      rate: `${live.tokensPerSecond.toFixed(0)} tokens/s`,
      etaSeconds: live.etaSeconds,
    });
    opts.onUpdate?.(record, live);
  }
}
