// Cancellable jobs across the worker boundary. comlink cannot carry an AbortSignal,
// so each job gets an id: the worker keeps an AbortController per id, and the UI side
// turns its own AbortSignal into a `cancel(id)` call.
import * as Comlink from 'comlink';
import { abortError, type ProgressListener } from '../progress.ts';

/** Worker side: runs job functions with a signal that `cancel(id)` aborts. */
export class JobHost {
  private running = new Map<string, AbortController>();

  async run<T>(id: string, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.running.has(id)) throw new Error(`job ${id} is already running`);
    const ctl = new AbortController();
    this.running.set(id, ctl);
    try {
      return await job(ctl.signal);
    } finally {
      this.running.delete(id);
    }
  }

  /**
   * Runs a job whose errors cross to the page: cancellation stays an AbortError, anything
   * else becomes `toPageError(err)` (a plain Error that survives the worker boundary).
   */
  runForPage<T>(id: string, job: (signal: AbortSignal) => Promise<T>, toPageError: (err: unknown) => Error): Promise<T> {
    return this.run(id, async (signal) => {
      try {
        return await job(signal);
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        throw toPageError(err);
      }
    });
  }

  /** Returns false when no such job is running (already finished: nothing to do). */
  cancel(id: string, reason?: string): boolean {
    const ctl = this.running.get(id);
    if (!ctl) return false;
    ctl.abort(abortError(reason ?? 'Cancelled by the user.'));
    return true;
  }

  get active(): string[] {
    return [...this.running.keys()];
  }
}

export interface JobOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

let nextId = 0;

/**
 * UI side: starts a job with a fresh id and wires `signal` to `cancel(id)`.
 * Rejects with an AbortError as soon as the signal fires; the worker stops at its next check.
 */
export async function startJob<T>(
  cancel: (id: string) => Promise<unknown> | unknown,
  start: (id: string) => Promise<T>,
  opts: JobOptions = {},
): Promise<T> {
  const id = `job-${Date.now().toString(36)}-${nextId++}`;
  const { signal } = opts;
  signal?.throwIfAborted();
  const onAbort = () => void cancel(id);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await start(id);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * UI side, for a job in a worker reached through comlink: `start(id, onProgress)` gets the
 * page's listener as a proxy. Progress travels over its own message port, so a last report
 * can arrive after the result: reports are dropped once the job has settled, or a page
 * would show a finished job as still running.
 */
export function startRemoteJob<T>(
  cancel: (id: string) => Promise<unknown> | unknown,
  start: (id: string, onProgress: ProgressListener) => Promise<T>,
  opts: JobOptions = {},
): Promise<T> {
  let live = true;
  const onProgress = Comlink.proxy<ProgressListener>((p) => {
    if (live) opts.onProgress?.(p);
  });
  return startJob(cancel, (id) => start(id, onProgress), opts).finally(() => (live = false));
}
