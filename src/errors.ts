// The one error type of Homecoder (after isomorphic-git's errors): a stable `code` callers
// branch on, structured `data` (JSON-safe) and a `hint` that says what to do. Every typed
// error class extends it and registers its name, so an error serialised with `toJSON()`
// (in a worker) is rebuilt by `fromJSON()` (on the page) as the same class.

/** What crosses a thread (or goes into a log): JSON-safe. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  hint: string;
  data: object;
  stack?: string;
}

export interface ErrorOptions<D extends object> {
  /** Structured facts about the failure (JSON-safe: they cross threads as they are). */
  data?: D;
  /** What the user can do about it (empty when the message already says). */
  hint?: string;
  cause?: unknown;
}

const registry = new Map<string, { prototype: HomecoderError }>();

/**
 * Makes `fromJSON` rebuild errors named `name` as `cls`. The name is given, not read from
 * `cls.name`, because the production build shortens class names.
 */
export function registerError(name: string, cls: { prototype: HomecoderError }): void {
  cls.prototype.name = name;
  registry.set(name, cls);
}

export class HomecoderError<C extends string = string, D extends object = object> extends Error {
  readonly code: C;
  readonly data: D;
  readonly hint: string;

  constructor(code: C, message: string, opts: ErrorOptions<D> = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HomecoderError';
    this.code = code;
    this.data = opts.data ?? ({} as D);
    this.hint = opts.hint ?? '';
  }

  toJSON(): SerializedError {
    return { name: this.name, code: this.code, message: this.message, hint: this.hint, data: this.data, stack: this.stack };
  }

  /** The same class (when registered), code, data, hint and message; the cause stays behind. */
  static fromJSON(json: SerializedError): HomecoderError {
    const proto = (registry.get(json.name) ?? HomecoderError).prototype;
    const err = Object.create(proto) as HomecoderError;
    Object.defineProperties(err, {
      name: { value: json.name, writable: true, configurable: true },
      message: { value: json.message, writable: true, configurable: true },
      stack: { value: json.stack ?? `${json.name}: ${json.message}`, writable: true, configurable: true },
    });
    Object.assign(err, { code: json.code, data: json.data ?? {}, hint: json.hint ?? '' });
    return err;
  }
}
registerError('HomecoderError', HomecoderError);

/** A thrown value's code, or '' for a plain Error (a bug) or anything else. */
export function errorCode(err: unknown): string {
  return err instanceof HomecoderError ? err.code : '';
}

/** A command-line argument the user got wrong; the CLI prints the message as it is. */
export class UsageError extends HomecoderError<'BAD_ARGUMENT', { option?: string }> {
  constructor(message: string, option?: string) {
    super('BAD_ARGUMENT', message, { data: option ? { option } : {} });
    this.name = 'UsageError';
  }
}
registerError('UsageError', UsageError);

export type HttpErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'BODY_TOO_LARGE'
  | 'BUSY'
  | 'CANCELLED'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'SERVER_ERROR';

/** A stable code for an HTTP status, so a caller need not compare numbers. */
export function httpErrorCode(status: number): HttpErrorCode {
  const known: Record<number, HttpErrorCode> = {
    400: 'BAD_REQUEST',
    401: 'UNAUTHORIZED',
    403: 'FORBIDDEN',
    404: 'NOT_FOUND',
    405: 'METHOD_NOT_ALLOWED',
    408: 'TIMEOUT',
    413: 'BODY_TOO_LARGE',
    429: 'BUSY',
    499: 'CANCELLED',
    503: 'UNAVAILABLE',
    504: 'TIMEOUT',
  };
  return known[status] ?? (status >= 500 ? 'SERVER_ERROR' : 'BAD_REQUEST');
}
