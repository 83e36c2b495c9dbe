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
  | 'LOSS_DIVERGED'
  | 'RUN_EXISTS';

/** A run cannot start, go on or be read: the message says what to do. */
export class RunError extends HomecoderError<RunErrorCode> {
  constructor(code: RunErrorCode, message: string, data: object = {}) {
    super(code, message, { data });
    this.name = 'RunError';
  }
}
registerError('RunError', RunError);
