// Learning rate at an optimizer step: linear warmup, then linear or cosine decay to 0
// over decaySteps (to the last step when 0), like HF's get_*_schedule_with_warmup except
// that the first step already uses lr/(warmup+1) rather than 0 (no step is wasted).
// Warmup is capped to a share of the run (WARMUP_SHARE): the default 20 warmup steps in
// a 3-step run would never reach the peak rate. The cap always applies, also to a warmup
// the user typed, so the schedule shown before start is the one trained with.
import type { TrainSettings } from './settings.ts';

/** Most of a run that warmup may take (rounded up, so a warmup of 1+ keeps at least 1 step). */
export const WARMUP_SHARE = 0.1;

type ScheduleSettings = Pick<TrainSettings, 'lr' | 'warmupSteps' | 'decaySteps' | 'schedule'>;

export interface EffectiveSchedule {
  /** Warmup steps actually used (the setting, capped to WARMUP_SHARE of the steps). */
  warmupSteps: number;
  /** True when the cap lowered the warmup setting. */
  warmupCapped: boolean;
  peakLr: number;
  /** Steps of decay after warmup (to 0). */
  decaySteps: number;
  schedule: 'linear' | 'cosine';
}

export function effectiveSchedule(totalSteps: number, s: ScheduleSettings): EffectiveSchedule {
  const warmupSteps = Math.min(s.warmupSteps, Math.ceil(WARMUP_SHARE * totalSteps));
  return {
    warmupSteps,
    warmupCapped: warmupSteps < s.warmupSteps,
    peakLr: s.lr,
    decaySteps: Math.max(0, (s.decaySteps || totalSteps) - warmupSteps),
    schedule: s.schedule,
  };
}

/** "warmup 1 step (capped from 20: at most 10% of 3 steps) to 3.0e-4, then linear decay to 0 over 2 steps". */
export function describeSchedule(totalSteps: number, s: ScheduleSettings): string {
  const e = effectiveSchedule(totalSteps, s);
  const n = (k: number) => `${k} step${k === 1 ? '' : 's'}`;
  const warm = e.warmupCapped
    ? `warmup ${n(e.warmupSteps)} (capped from ${s.warmupSteps}: at most ${WARMUP_SHARE * 100}% of ${n(totalSteps)})`
    : `warmup ${n(e.warmupSteps)}`;
  return `${warm} to a peak lr of ${e.peakLr.toExponential(1)}, then ${e.schedule} decay to 0 over ${n(e.decaySteps)}`;
}

/** The rate used for step `step` (1-based) of a run of `totalSteps`. */
export function learningRate(step: number, totalSteps: number, s: ScheduleSettings): number {
  const e = effectiveSchedule(totalSteps, s);
  const n = step - 1; // HF counts from 0
  if (n < e.warmupSteps) return (s.lr * (n + 1)) / (e.warmupSteps + 1);
  if (e.decaySteps <= 0) return s.lr;
  const p = Math.min(1, (n - e.warmupSteps) / e.decaySteps);
  return s.schedule === 'cosine' ? s.lr * 0.5 * (1 + Math.cos(Math.PI * p)) : s.lr * (1 - p);
}
