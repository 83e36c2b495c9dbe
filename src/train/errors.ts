// Typed errors of a training run, in a module of their own so the page can rebuild them
// (src/workers/error-transfer.ts) without loading the training code.
import { HomecoderError, registerError } from '../errors.ts';
import type { MemoryCheck } from './memory-check.ts';

/** The run does not fit the GPU: `check` says why and which setting to lower. */
export class MemoryCheckError extends HomecoderError<'WONT_FIT', { check: MemoryCheck }> {
  constructor(check: MemoryCheck) {
    super('WONT_FIT', check.message, { data: { check } });
    this.name = 'MemoryCheckError';
  }
  get check(): MemoryCheck {
    return this.data.check;
  }
}
registerError('MemoryCheckError', MemoryCheckError);

export type RunErrorCode =
  | 'NO_MODEL'
  | 'RUN_NOT_FOUND'
  | 'RUN_BUSY'
  | 'RUN_DATASET_LOST'
  | 'NO_CHECKPOINT'
  | 'BAD_CHECKPOINT'
  | 'RUN_EXISTS'
  // A run folder that cannot be resumed: corrupt run.json, another base model, changed settings.
  | 'RUN_CORRUPT'
  | 'RUN_OTHER_MODEL'
  | 'RUN_SETTINGS_FIXED';

/** A run cannot start, go on or be read: the message says what to do. */
export class RunError extends HomecoderError<RunErrorCode> {
  constructor(code: RunErrorCode, message: string, data: object = {}) {
    super(code, message, { data });
    this.name = 'RunError';
  }
}
registerError('RunError', RunError);

/** The loss became NaN or infinite: the run stops there (earlier checkpoints stay as they were). */
export class TrainingError extends HomecoderError<'LOSS_NOT_FINITE', { loss: number | null; step: number }> {
  constructor(loss: number, step: number) {
    super(
      'LOSS_NOT_FINITE',
      `The loss became ${loss} at step ${step}: training stopped there. Lower the learning rate (or check the model's weights and the adapter) and start again; earlier checkpoints are kept.`,
      // JSON has no NaN or Infinity: the message keeps the value, the data says it was not finite.
      { data: { loss: Number.isFinite(loss) ? loss : null, step } },
    );
    this.name = 'TrainingError';
  }
  get loss(): number {
    return this.data.loss ?? Number.NaN;
  }
  get step(): number {
    return this.data.step;
  }
}
registerError('TrainingError', TrainingError);
