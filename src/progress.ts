// Progress of a long job, as every layer reports it (DESIGN: Conventions).
export interface Progress {
  phase: string;
  done: number;
  total: number;
  detail?: string;
  /** How fast it goes, in its own unit ("120 tokens/s", "0.4 files/s"), once measured. */
  rate?: string;
  /** Seconds until the whole job is done (this phase and the ones after it), once estimable. */
  etaSeconds?: number;
}

export type ProgressListener = (p: Progress) => void;

/** The error a cancelled job rejects with (same name as DOM's, so `isAbort` works everywhere). */
export function abortError(reason?: unknown): Error {
  if (reason instanceof Error) return reason;
  const e = new Error(typeof reason === 'string' ? reason : 'The operation was cancelled.');
  e.name = 'AbortError';
  return e;
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/**
 * Adds a rate and the time left to reports that have none, from the time since the phase's
 * first report (for phases whose items take about the same time each, such as evaluation).
 */
export function withEta(onProgress: ProgressListener | undefined, unit = 'items'): ProgressListener | undefined {
  if (!onProgress) return undefined;
  let phase = '';
  let t0 = 0;
  let done0 = 0;
  return (p) => {
    const now = performance.now();
    if (p.phase !== phase) [phase, t0, done0] = [p.phase, now, p.done];
    const s = (now - t0) / 1000;
    const n = p.done - done0;
    if (n > 0 && s > 0 && p.etaSeconds === undefined)
      onProgress({ rate: p.rate ?? `${(n / s).toFixed(2)} ${unit}/s`, ...p, etaSeconds: (s / n) * (p.total - p.done) });
    else onProgress(p);
  };
}
