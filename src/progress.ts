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
