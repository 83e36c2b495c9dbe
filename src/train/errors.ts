// Typed errors of a training run: a loss that is no longer a number, and a run folder that
// cannot be resumed (corrupt run.json, another base model, changed settings).
export type RunErrorCode = 'RUN_CORRUPT' | 'RUN_OTHER_MODEL' | 'RUN_SETTINGS_FIXED';

export class RunError extends Error {
  readonly code: RunErrorCode;
  constructor(code: RunErrorCode, message: string) {
    super(message);
    this.name = 'RunError';
    this.code = code;
  }
}

/** The loss became NaN or infinite: the run stops there (earlier checkpoints stay as they were). */
export class TrainingError extends Error {
  readonly code = 'LOSS_NOT_FINITE';
  constructor(
    readonly loss: number,
    readonly step: number,
  ) {
    super(
      `The loss became ${loss} at step ${step}: training stopped there. Lower the learning rate (or check the model's weights and the adapter) and start again; earlier checkpoints are kept.`,
    );
    this.name = 'TrainingError';
  }
}
