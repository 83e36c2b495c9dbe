// Cancellable jobs across the worker boundary. comlink cannot carry an AbortSignal,
// so each job gets an id: the worker keeps an AbortController per id, and the UI side
// turns its own AbortSignal into a `cancel(id)` call. Errors cross as themselves
// (error-transfer.ts), so nothing here rewrites them.
import * as Comlink from 'comlink';
import { abortError, type ProgressListener } from '../progress.ts';

declare const jobIdBrand: unique symbol;
/**
 * A job's id. A worker API method whose first parameter is a JobId (and second the progress
 * listener) is a job: the client runs it through `startRemoteJob`.
 */
export type JobId = string & { readonly [jobIdBrand]: true };

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

/** The worker's side of a job method: an id for `cancel`, a progress proxy, then its arguments. */
type JobArgs<F> = F extends (jobId: JobId, onProgress: ProgressListener, ...args: infer A) => Promise<unknown> ? A : never;
// A method is a job when its first parameter is a JobId (a plain string id is not one).
type JobKeys<Api> = {
  [K in keyof Api]: Api[K] extends (...args: infer P) => Promise<unknown> ? (P extends [JobId, ...unknown[]] ? K : never) : never;
}[keyof Api];

/** Every worker API can cancel its jobs. */
export interface CancellableApi {
  cancel(jobId: string): Promise<boolean>;
}

/**
 * The page's side of a worker API, typed from the one interface the worker implements: plain
 * methods as they are, job methods with their arguments then `{signal, onProgress}`.
 */
export type WorkerClient<Api extends CancellableApi> = {
  [K in Exclude<keyof Api, JobKeys<Api> | 'cancel'>]: Api[K];
} & {
  [K in JobKeys<Api>]: Api[K] extends (jobId: JobId, onProgress: ProgressListener, ...args: infer A) => Promise<infer R>
    ? (...args: [...A, JobOptions?]) => Promise<R>
    : never;
};

/** How many arguments each job method takes after its id and listener (where its options start). */
export type JobArity<Api> = { [K in JobKeys<Api>]: JobArgs<Api[K]>['length'] };

/**
 * Wraps a comlink remote as its WorkerClient. Job methods get a fresh id, the page's signal
 * wired to `cancel`, and their function arguments (listeners) passed as proxies.
 */
export function workerClient<Api extends CancellableApi>(remote: Comlink.Remote<Api>, jobs: JobArity<Api>): WorkerClient<Api> {
  const call = remote as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const arity = jobs as Record<string, number>;
  const cancel = (id: string) => call.cancel(id);
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const method = (name: string) => {
    const n = arity[name];
    if (n === undefined) return (...args: unknown[]) => call[name](...args);
    return (...args: unknown[]) => {
      const rest = args.slice(0, n).map((a) => (typeof a === 'function' ? Comlink.proxy(a) : a));
      return startRemoteJob(cancel, (id, onProgress) => call[name](id, onProgress, ...rest), args[n] as JobOptions | undefined);
    };
  };
  return new Proxy({} as WorkerClient<Api>, {
    get(_, name) {
      // Not a thenable, and no other symbol lookups reach the worker.
      if (typeof name !== 'string' || name === 'then' || name === 'cancel') return undefined;
      let m = methods.get(name);
      if (!m) methods.set(name, (m = method(name)));
      return m;
    },
  });
}
