// What a run stores in run.json: its settings, dataset summary, memory plan, the
// per-step log, test losses, checkpoints and status. Written before progress is reported,
// so a reload always finds the run as far as it got.
import type { TrainSettings } from './settings.ts';
import type { DatasetStats } from '../data/dataset/build.ts';
import type { BadLine } from '../data/dataset/supervised.ts';
import type { MemoryPlan } from '../gpu/planner.ts';

export interface StepLog {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  ms: number;
}

export interface CheckpointInfo {
  step: number;
  testLoss: number | null;
  trainLoss: number | null;
}

export interface EvaluationResult {
  files: number;
  base: { testLoss: number; exactMatch: number };
  tuned: { step: number; testLoss: number; exactMatch: number };
  samples: Array<{ path: string; line: string; base: string; tuned: string }>;
}

export type RunStatus = 'created' | 'running' | 'stopped' | 'done' | 'early-stopped' | 'failed';

export interface RunRecord {
  id: string;
  createdAt: string;
  model: { id: string; label: string };
  settings: TrainSettings;
  /** Resolved number of steps (settings.steps, or automatic). */
  steps: number;
  stepsAuto: boolean;
  dataset: DatasetStats;
  plan: MemoryPlan;
  status: RunStatus;
  error?: string;
  log: StepLog[];
  evals: Array<{ step: number; testLoss: number }>;
  checkpoints: CheckpointInfo[];
  /** Step of the checkpoint with the lowest test loss. */
  best: number | null;
  evaluation?: EvaluationResult;
  /** false when the run was started without the final evaluation (--no-eval); a resume keeps it. */
  evaluate?: boolean;
  /** Supervised lines that were skipped, and why (the first 200; dataset.badLines counts them all). */
  badLines?: BadLine[];
  /** Files the stage-2 loss filter left out, with their loss. */
  rejected?: Array<{ path: string; reason: string; loss: number | null }>;
  /** What the stage-2 loss filter did (absent when it was off). */
  lossFilter?: {
    /** Nats; null: the filter kept every file (the reason is in `why`). */
    threshold: number | null;
    why: string;
    files: number;
    kept: number;
    measuredFiles: number;
    cachedFiles: number;
    seconds: number;
  };
}

export function bestCheckpoint(r: Pick<RunRecord, 'checkpoints'>): number | null {
  let best: CheckpointInfo | undefined;
  for (const c of r.checkpoints) if (c.testLoss !== null && Number.isFinite(c.testLoss) && (!best || c.testLoss < best.testLoss!)) best = c;
  return best?.step ?? null;
}
