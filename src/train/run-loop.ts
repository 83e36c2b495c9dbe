// The step loop of a training run (run.ts sets it up on the GPU): the schedule, test loss
// every N steps, checkpoints, early stop, Stop between steps, and live figures with an ETA.
import type { GpuLora } from '../gpu/lora.ts';
import type { LoraTrainer, StepResult } from '../gpu/trainer.ts';
import type { Transformer } from '../gpu/transformer.ts';
import { abortError } from '../progress.ts';
import type { Dataset } from '../data/dataset/build.ts';
import type { TrainSettings } from './settings.ts';
import { learningRate } from './schedule.ts';
import { BlockSampler } from './sampler.ts';
import { packedLoss } from './eval-loss.ts';
import { saveCheckpoint, writeAdapterMeta } from './checkpoint.ts';
import { bestCheckpoint, type RunRecord } from './run-record.ts';
import type { RunFolder } from './run-folder.ts';
import { EtaClock } from './eta.ts';
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

  constructor(private readonly p: RunParts) {
    this.s = p.record.settings;
    this.sampler = new BlockSampler(p.data.train, this.s.seed);
  }

  /** Trains to the last step or an early stop; rejects with an AbortError after a Stop. */
  async run(): Promise<RunRecord> {
    const { record, trainer } = this.p;
    record.status = 'running';
    delete record.error;
    if (!record.evals.some((e) => e.step === 0)) {
      this.p.opts.onProgress?.({ phase: 'test loss', done: 0, total: record.steps, detail: 'before training' });
      record.evals.unshift({ step: 0, testLoss: await this.testLoss() });
    }
    await this.p.save();
    for (let step = trainer.step + 1; step <= record.steps; step++) {
      await this.stopIfAborted();
      if (await this.step(step)) break;
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
    if (step % this.s.evalEvery === 0 || atCheckpoint) {
      this.p.opts.onProgress?.({ phase: 'test loss', done: step, total: record.steps });
      record.evals.push({ step, testLoss: await this.testLoss() });
    }
    if (atCheckpoint) await this.checkpoint(step, res.loss, record.evals.at(-1)!.step === step ? this.lastTest() : null);
    const stopEarly = this.earlyStopDue(step, last);
    if (stopEarly && !atCheckpoint) await this.checkpoint(step, res.loss, this.lastTest());
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

  /** The test-set loss now, timed for the ETA. */
  private async testLoss(): Promise<number> {
    const t0 = performance.now();
    const { tf, engine, data, opts } = this.p;
    const loss = await packedLoss(tf, engine.runner, data.test, { signal: opts.signal, maxBlocks: opts.maxTestBlocks });
    this.eta.evaluation(performance.now() - t0);
    return loss;
  }

  private lastTest(): number | null {
    return this.p.record.evals.at(-1)?.testLoss ?? null;
  }

  private async checkpoint(step: number, trainLoss: number | null, testLoss: number | null): Promise<void> {
    const { run, adapter, trainer, record } = this.p;
    await saveCheckpoint(run, adapter, trainer, record.model.label, { step, dataPosition: step * this.s.batchSize, trainLoss, testLoss });
    record.checkpoints.push({ step, trainLoss, testLoss });
    record.best = bestCheckpoint(record);
    await writeAdapterMeta(run, record);
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
      etaSeconds: this.eta.secondsLeft(step, record.steps, this.s.evalEvery),
      gpuMemory: engine.memory.report().total,
    };
    opts.onProgress?.({ phase: 'training', done: step, total: record.steps, detail: `loss ${res.loss.toFixed(4)}` });
    opts.onUpdate?.(record, live);
  }
}
