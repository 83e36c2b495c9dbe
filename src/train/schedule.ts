// Learning rate at an optimizer step: linear warmup, then linear or cosine decay to 0
// over decaySteps (to the last step when 0), like HF's get_*_schedule_with_warmup except
// that the first step already uses lr/(warmup+1) rather than 0 (no step is wasted).
import type { TrainSettings } from './settings.ts';

/** The rate used for step `step` (1-based) of a run of `totalSteps`. */
export function learningRate(
  step: number,
  totalSteps: number,
  s: Pick<TrainSettings, 'lr' | 'warmupSteps' | 'decaySteps' | 'schedule'>,
): number {
  const n = step - 1; // HF counts from 0
  if (n < s.warmupSteps) return (s.lr * (n + 1)) / (s.warmupSteps + 1);
  const decay = (s.decaySteps || totalSteps) - s.warmupSteps;
  if (decay <= 0) return s.lr;
  const p = Math.min(1, (n - s.warmupSteps) / decay);
  return s.schedule === 'cosine' ? s.lr * 0.5 * (1 + Math.cos(Math.PI * p)) : s.lr * (1 - p);
}
