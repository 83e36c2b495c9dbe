// Between editors and the one backend that generates (the app tab or `homecoder serve`):
// one generation at a time (one GPU), queues per client served round-robin so one busy
// editor cannot starve another, a newer request from a client cancels its older ones
// (each keystroke sends a request), and a client that disconnects cancels its own.
// Every request has deadlines (first token, total): a backend that never answers gets a 504
// and the queue moves on. Keeps a short request log and the last editors seen, for the
// app's connection panel.
import { HomecoderError, registerError, httpErrorCode, type HttpErrorCode } from '../errors.ts';
import type { CompletionRequest, CompletionResult, LogEntry, RelayStats, ServingInfo } from '../serve/types.ts';

export type { LogEntry, RelayStats };

export interface Backend {
  readonly kind: 'tab' | 'headless';
  /** What serves, or undefined when no model is loaded yet. */
  info(): ServingInfo | undefined;
  complete(req: CompletionRequest, opts: { signal: AbortSignal; onText: (delta: string) => void }): Promise<CompletionResult>;
  /** Generations the backend itself has running or waiting (0 when idle). */
  active?(): number;
}

export class RelayError extends HomecoderError<HttpErrorCode, { status: number }> {
  constructor(status: number, message: string) {
    super(httpErrorCode(status), message, { data: { status } });
    this.name = 'RelayError';
  }
  /** The HTTP status the editor gets. */
  get status(): number {
    return this.data.status;
  }
}
registerError('RelayError', RelayError);

interface Job {
  client: string;
  route: string;
  req: CompletionRequest;
  ctl: AbortController;
  onText: (delta: string) => void;
  resolve: (r: CompletionResult) => void;
  reject: (e: unknown) => void;
  started: number;
}

const LOG_SIZE = 200;
/** Jobs of one adapter run in a row, at most, while jobs for another adapter wait. */
export const ADAPTER_BATCH = 4;
/** Editors listed in the status (the most recent ones): any local process can invent names. */
export const EDITORS_KEPT = 32;

export interface RelayDeadlines {
  /** From the start of a request's generation to its first token. */
  firstTokenMs: number;
  /** From the start of a request's generation to its end. */
  totalMs: number;
}

export const DEFAULT_DEADLINES: RelayDeadlines = { firstTokenMs: 120_000, totalMs: 300_000 };

export class Relay {
  private backends: Backend[] = [];
  private queues = new Map<string, Job[]>();
  /** Clients in round-robin order (those with queued jobs). */
  private turn: string[] = [];
  private running?: Job;
  /** The named adapter of the last job started, and how many in a row used it. */
  private lastAdapter?: string;
  private sameAdapterRun = 0;
  private log: LogEntry[] = [];
  private editors = new Map<string, { client: string; route: string; lastSeen: string; requests: number }>();

  constructor(
    private noBackendHint: (backend: Backend | undefined) => string,
    private deadlines: RelayDeadlines = DEFAULT_DEADLINES,
  ) {}

  /** The newest attached backend serves; earlier ones take over when it detaches. */
  attach(b: Backend): () => void {
    this.backends.push(b);
    return () => {
      this.backends = this.backends.filter((x) => x !== b);
      if (this.running && !this.backend()) this.running.ctl.abort();
    };
  }

  /** The newest backend with a model loaded, else the newest one (which says what is missing). */
  backend(): Backend | undefined {
    for (let i = this.backends.length - 1; i >= 0; i--) if (this.backends[i].info()) return this.backends[i];
    return this.backends[this.backends.length - 1];
  }

  stats(): RelayStats {
    const b = this.backend();
    let queued = 0;
    for (const q of this.queues.values()) queued += q.length;
    return {
      backend: b && { kind: b.kind, serving: b.info() },
      queued,
      running: this.running ? 1 : 0,
      backendActive: b?.active?.() ?? 0,
      editors: [...this.editors.values()],
      log: [...this.log],
    };
  }

  /**
   * Queues a completion for `client`, cancelling the client's older ones. Resolves with
   * the result (finishReason 'cancelled' when superseded or disconnected).
   */
  submit(
    client: string,
    route: string,
    req: CompletionRequest,
    opts: { signal: AbortSignal; onText: (delta: string) => void },
  ): Promise<CompletionResult> {
    if (!this.backend()?.info()) throw new RelayError(503, this.noBackendHint(this.backend()));
    this.seen(client, route);
    // A newer request from the same client supersedes the older ones.
    for (const old of this.queues.get(client) ?? []) old.ctl.abort();
    if (this.running?.client === client) this.running.ctl.abort();
    return new Promise<CompletionResult>((resolve, reject) => {
      const job: Job = { client, route, req, ctl: new AbortController(), onText: opts.onText, resolve, reject, started: performance.now() };
      const cancel = () => job.ctl.abort();
      if (opts.signal.aborted) cancel();
      opts.signal.addEventListener('abort', cancel, { once: true });
      job.ctl.signal.addEventListener('abort', () => this.dropQueued(job), { once: true });
      const q = this.queues.get(client) ?? [];
      q.push(job);
      this.queues.set(client, q);
      if (!this.turn.includes(client)) this.turn.push(client);
      this.pump();
    });
  }

  private seen(client: string, route: string): void {
    const e = this.editors.get(client) ?? { client, route, lastSeen: '', requests: 0 };
    e.route = route;
    e.lastSeen = new Date().toISOString();
    e.requests++;
    // Re-inserted, so the map's order is by last use; the oldest beyond the cap go.
    this.editors.delete(client);
    this.editors.set(client, e);
    for (const old of this.editors.keys()) {
      if (this.editors.size <= EDITORS_KEPT) break;
      this.editors.delete(old);
    }
  }

  /** A cancelled job still waiting is answered at once, without reaching the backend. */
  private dropQueued(job: Job): void {
    const q = this.queues.get(job.client);
    const i = q?.indexOf(job) ?? -1;
    if (!q || i < 0) return;
    q.splice(i, 1);
    if (q.length === 0) {
      this.queues.delete(job.client);
      this.turn = this.turn.filter((c) => c !== job.client);
    }
    this.finish(job, cancelledResult());
  }

  private next(): Job | undefined {
    // Prefer a client whose next job uses the adapter on now (a switch drops the KV cache), at
    // most ADAPTER_BATCH in a row while others wait: switching costs, starving is worse.
    let at = 0;
    if (this.sameAdapterRun < ADAPTER_BATCH)
      at = Math.max(
        0,
        this.turn.findIndex((c) => this.queues.get(c)![0].req.adapter === this.lastAdapter),
      );
    const [client] = this.turn.splice(at, 1);
    if (client === undefined) return undefined;
    const q = this.queues.get(client)!;
    const job = q.shift()!;
    if (q.length)
      this.turn.push(client); // back of the line: round-robin
    else this.queues.delete(client);
    this.sameAdapterRun = job.req.adapter === this.lastAdapter ? this.sameAdapterRun + 1 : 1;
    this.lastAdapter = job.req.adapter;
    return job;
  }

  private pump(): void {
    if (this.running) return;
    const job = this.next();
    if (!job) return;
    const backend = this.backend();
    if (!backend?.info()) {
      this.finishError(job, new RelayError(503, this.noBackendHint(backend)));
      this.pump();
      return;
    }
    this.running = job;
    let firstTokenMs: number | undefined;
    let settled = false;
    // Whichever comes first ends the job: the backend's answer, or a deadline (504; the
    // backend is told to cancel, and a late answer is ignored).
    const end = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(firstTimer);
      clearTimeout(totalTimer);
      f();
      this.running = undefined;
      this.pump();
    };
    const expire = (what: string, ms: number) =>
      end(() => {
        job.ctl.abort();
        this.finishError(
          job,
          new RelayError(
            504,
            `The model did not answer in time (${what}, ${Math.round(ms / 1000)} s): try again; if it keeps happening, reload the app tab.`,
          ),
        );
      });
    const firstTimer = setTimeout(() => expire('no first token', this.deadlines.firstTokenMs), this.deadlines.firstTokenMs);
    const totalTimer = setTimeout(() => expire('the whole request', this.deadlines.totalMs), this.deadlines.totalMs);
    let promise: Promise<CompletionResult>;
    try {
      promise = backend.complete(job.req, {
        signal: job.ctl.signal,
        onText: (d) => {
          if (settled) return;
          if (firstTokenMs === undefined) {
            firstTokenMs = performance.now() - job.started;
            clearTimeout(firstTimer);
          }
          job.onText(d);
        },
      });
    } catch (e) {
      promise = Promise.reject(e);
    }
    promise.then(
      (r) => end(() => this.finish(job, r, firstTokenMs)),
      (e: unknown) => end(() => this.finishError(job, e)),
    );
  }

  private finish(job: Job, r: CompletionResult, firstTokenMs?: number): void {
    this.record({
      time: new Date().toISOString(),
      client: job.client,
      route: job.route,
      status: r.finishReason === 'cancelled' ? 'cancelled' : 'ok',
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      latencyMs: Math.round(performance.now() - job.started),
      firstTokenMs: firstTokenMs === undefined ? undefined : Math.round(firstTokenMs),
      finishReason: r.finishReason,
    });
    job.resolve(r);
  }

  private finishError(job: Job, e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.record({
      time: new Date().toISOString(),
      client: job.client,
      route: job.route,
      status: 'error',
      promptTokens: 0,
      completionTokens: 0,
      latencyMs: Math.round(performance.now() - job.started),
      error: msg,
    });
    job.reject(e);
  }

  private record(e: LogEntry): void {
    this.log.push(e);
    if (this.log.length > LOG_SIZE) this.log.splice(0, this.log.length - LOG_SIZE);
  }
}

export function cancelledResult(): CompletionResult {
  return {
    text: '',
    finishReason: 'cancelled',
    promptTokens: 0,
    completionTokens: 0,
    reusedTokens: 0,
    truncated: false,
    prefillMs: 0,
    decodeMs: 0,
  };
}
