// What every editor route shares: bounded JSON bodies, JSON answers (../json.ts), typed 4xx
// errors in each protocol's error shape, streaming (SSE or NDJSON), and cancellation when the
// client goes away.
import { HomecoderError, registerError, httpErrorCode, type HttpErrorCode } from '../../errors.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Relay } from '../relay.ts';
import type { CompletionRequest, CompletionResult } from '../../serve/types.ts';

export class HttpError extends HomecoderError<HttpErrorCode, { status: number }> {
  constructor(status: number, message: string) {
    super(httpErrorCode(status), message, { data: { status } });
    this.name = 'HttpError';
  }
  /** The HTTP status the editor gets. */
  get status(): number {
    return this.data.status;
  }
}
registerError('HttpError', HttpError);

/** How a protocol family writes its errors. */
export type ErrorShape = 'openai' | 'string' | 'llamacpp';

export function errorBody(shape: ErrorShape, status: number, message: string): unknown {
  if (shape === 'string') return { error: message };
  const type =
    status === 401
      ? 'authentication_error'
      : status === 503
        ? 'unavailable_error'
        : status >= 500
          ? 'server_error'
          : 'invalid_request_error';
  return shape === 'llamacpp' ? { error: { code: status, message, type } } : { error: { message, type, code: status } };
}

export { sendJson } from '../json.ts';

/** Reads and parses a JSON object body of at most `limit` bytes. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit)
    throw new HttpError(413, `The request body is ${declared} bytes; the bridge accepts at most ${limit}. Send less context.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit)
      throw new HttpError(413, `The request body is over ${limit} bytes; the bridge accepts at most ${limit}. Send less context.`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) throw new HttpError(400, 'The request has no body: send a JSON object.');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `The body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'The body must be a JSON object.');
  return v as Record<string, unknown>;
}

// Field readers: absent → default, wrong type or range → 400 that names the field.
export function str(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `"${key}" must be a string.`);
  return v;
}

export function num(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `"${key}" must be a number.`);
  if (v < min || v > max) throw new HttpError(400, `"${key}" must be between ${min} and ${max}, got ${v}.`);
  return v;
}

export function int(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = num(body, key, min, max);
  if (v !== undefined && !Number.isInteger(v)) throw new HttpError(400, `"${key}" must be an integer.`);
  return v;
}

export function bool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new HttpError(400, `"${key}" must be true or false.`);
  return v;
}

export function stopList(body: Record<string, unknown>, key: string): string[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  throw new HttpError(400, `"${key}" must be a string or a list of strings.`);
}

export function obj(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = body[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, `"${key}" must be an object.`);
  return v as Record<string, unknown>;
}

/** Token budgets: −1 or absent means "the default", never unbounded. */
export const MAX_TOKENS_CAP = 4096;
export const DEFAULT_MAX_TOKENS = 128;

export function clampTokens(n: number | undefined): number {
  if (n === undefined || n < 0) return DEFAULT_MAX_TOKENS;
  return Math.min(n, MAX_TOKENS_CAP);
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  relay: Relay;
  /** Who is asking (for superseding and the log). */
  client: string;
  route: string;
  maxBodyBytes: number;
  body(): Promise<Record<string, unknown>>;
  /** Runs a completion; aborts when the client disconnects. */
  complete(req: CompletionRequest, onText?: (delta: string) => void): Promise<CompletionResult>;
}

export interface Route {
  method: 'GET' | 'POST' | 'GET|POST';
  path: string | RegExp;
  errors: ErrorShape;
  /** Open routes need no API key (health checks). */
  open?: boolean;
  /** Routes for the app itself: they need the tab's cookie (or the API key, when there is one). */
  tab?: boolean;
  handle(ctx: RouteContext): Promise<void>;
}

/** Starts a Server-Sent Events answer. */
export function startSse(res: ServerResponse): { send(data: unknown): void; done(): void } {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  return {
    send: (data) => void res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`),
    done: () => void res.end(),
  };
}

/** Starts a newline-delimited JSON answer (Ollama's streaming). */
export function startNdjson(res: ServerResponse): { send(data: unknown): void; done(): void } {
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' });
  return { send: (data) => void res.write(`${JSON.stringify(data)}\n`), done: () => void res.end() };
}

type Stream = ReturnType<typeof startSse>;

/** The events of one streamed answer (SSE or NDJSON). */
export interface StreamEvents {
  /** Sent as soon as the stream starts, before any generated text. */
  first?: unknown[];
  /** The event carrying one piece of generated text. */
  piece(text: string): unknown;
  /** The closing events, once the completion is done. */
  last(r: CompletionResult): unknown[];
  /** The event that reports a failure after the stream has started. */
  failed(message: string): unknown;
  /** Sent after the closing (or failure) events, e.g. SSE's [DONE]. */
  trailer?: unknown[];
}

/**
 * Streams one completion. The request is queued before the stream starts, so a refusal
 * (queue full, no backend) still answers with a status and a JSON error.
 */
export async function streamCompletion(
  ctx: RouteContext,
  req: CompletionRequest,
  start: (res: ServerResponse) => Stream,
  ev: StreamEvents,
): Promise<void> {
  let out: Stream | undefined;
  const done = ctx.complete(req, (d) => out?.send(ev.piece(d)));
  out = start(ctx.res);
  for (const e of ev.first ?? []) out.send(e);
  try {
    const r = await done;
    for (const e of ev.last(r)) out.send(e);
  } catch (e) {
    out.send(ev.failed((e as Error).message));
  }
  for (const e of ev.trailer ?? []) out.send(e);
  out.done();
}

/** The sampling options every protocol spells the same: temperature, top_p, top_k, stop, seed. */
export function samplingOf(
  o: Record<string, unknown>,
  repeatPenalty = false,
): Pick<CompletionRequest, 'temperature' | 'topP' | 'topK' | 'repetitionPenalty' | 'stop' | 'seed'> {
  return {
    temperature: num(o, 'temperature', 0, 2) ?? 0,
    topP: num(o, 'top_p', 0, 1) ?? 1,
    topK: int(o, 'top_k', 0, 1e6) ?? 0,
    ...(repeatPenalty ? { repetitionPenalty: num(o, 'repeat_penalty', 0.1, 10) } : {}),
    stop: stopList(o, 'stop'),
    seed: int(o, 'seed', -(2 ** 53), 2 ** 53),
  };
}

export const MODEL_NAME = 'homecoder';
