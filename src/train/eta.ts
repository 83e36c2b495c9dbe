// How long a run has left, from what its steps and evaluations took so far, and how a
// duration reads (the Train page and `homecoder train` show the same words).

/** Steps whose mean time predicts the rest (recent ones: the first steps warm up the GPU). */
const RECENT_STEPS = 10;

export class EtaClock {
  private recentMs: number[] = [];
  private evalMs = 0;

  step(ms: number): void {
    this.recentMs.push(ms);
    if (this.recentMs.length > RECENT_STEPS) this.recentMs.shift();
  }

  evaluation(ms: number): void {
    this.evalMs = ms;
  }

  /** Seconds left after `step` of `steps`, with a test-loss evaluation every `evalEvery` steps. */
  secondsLeft(step: number, steps: number, evalEvery: number): number {
    const meanMs = this.recentMs.reduce((a, b) => a + b, 0) / this.recentMs.length;
    const evalsLeft = Math.floor(steps / evalEvery) - Math.floor(step / evalEvery);
    return ((steps - step) * meanMs + evalsLeft * this.evalMs) / 1000;
  }
}

/** "1 h 5 min", "3 min 20 s", "42 s". */
export function formatDuration(s: number): string {
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.round(s)} s`;
}
