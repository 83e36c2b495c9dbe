// The editor routes of every supported protocol, behind one dispatcher: optional API key
// (Bearer), bounded bodies, errors in the protocol's own shape, and cancellation when the
// client disconnects. No CORS headers: the app's Playground is same-origin and editors
// are not browsers, so no other web page gets to read an answer; and since a page can still
// *send* (no-cors), requests from another site are refused and POST bodies must be JSON
// (a no-cors request cannot declare application/json).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Relay, RelayError } from '../relay.ts';
import { HttpError, errorBody, readJsonBody, sendJson, type Route, type RouteContext } from './http.ts';
import { openaiRoutes, tabbyRoutes } from './openai.ts';
import { ollamaRoutes } from './ollama.ts';
import { llamacppRoutes } from './llamacpp.ts';
import { tgiRoutes } from './tgi.ts';
import { statusRoutes } from './status.ts';
import { chatRoutes } from './chat.ts';
import { CompletionError, completionErrorStatus } from '../../serve/errors.ts';

export interface EditorApiOptions {
  relay: Relay;
  /** When set, editor routes need `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Whether a request carries the app tab's cookie (it stands in for the API key). */
  tabOk?: (req: IncomingMessage) => boolean;
  /** Why a request comes from another site's page, or undefined (src/bridge/hosts.ts). */
  crossSite?: (req: IncomingMessage) => string | undefined;
}

export const DEFAULT_MAX_BODY = 1024 * 1024;

const ROUTES: Route[] = [...statusRoutes, ...openaiRoutes, ...tabbyRoutes, ...ollamaRoutes, ...llamacppRoutes, ...tgiRoutes, ...chatRoutes];

function match(route: Route, path: string): boolean {
  return typeof route.path === 'string' ? route.path === path : route.path.test(path);
}

/** A short name for who sent a request: an explicit header, else its user agent. */
export function clientName(req: IncomingMessage): string {
  const explicit = req.headers['x-homecoder-client'];
  if (typeof explicit === 'string' && explicit) return explicit.slice(0, 80);
  const ua = req.headers['user-agent'] ?? '';
  if (req.headers['x-stainless-lang']) return `openai-${req.headers['x-stainless-lang']}`;
  return (ua.split(' ')[0] || `${req.socket.remoteAddress ?? 'unknown'}`).slice(0, 80);
}

export function keyOk(req: IncomingMessage, key: string): boolean {
  const auth = req.headers.authorization ?? '';
  const given = /^Bearer\s+(.+)$/i.exec(auth)?.[1] ?? (typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : '');
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

function hasBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/** application/json or any +json type, with parameters (charset) allowed. */
function isJson(type: string | undefined): boolean {
  const t = (type ?? '').split(';')[0].trim().toLowerCase();
  return t === 'application/json' || /^application\/[\w.-]+\+json$/.test(t);
}

export function createEditorApi(opts: EditorApiOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const candidates = ROUTES.filter((r) => match(r, path));
    if (candidates.length === 0) return false;
    const route = candidates.find((r) => r.method.split('|').includes(req.method ?? ''));
    const shape = candidates[0].errors;
    const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
      if (res.headersSent) return void res.end();
      sendJson(res, status, errorBody(shape, status, message), headers);
    };
    if (!route) {
      fail(405, `${req.method} ${path}: use ${candidates[0].method.replace('|', ' or ')}.`, {
        allow: candidates[0].method.replace('|', ', '),
      });
      return true;
    }
    const cross = opts.crossSite?.(req);
    if (cross) {
      fail(403, cross);
      return true;
    }
    const tab = opts.tabOk?.(req) ?? false;
    if (route.tab && !tab && !(opts.apiKey && keyOk(req, opts.apiKey))) {
      fail(
        401,
        `${path} is for the Homecoder app: open it with the link the bridge printed (or run \`homecoder url\`)${opts.apiKey ? ', or send the API key' : ''}.`,
      );
      return true;
    }
    if (opts.apiKey && !route.open && !route.tab && !tab && !keyOk(req, opts.apiKey)) {
      fail(401, 'Missing or wrong API key: send "Authorization: Bearer <key>" with the key the bridge was started with.', {
        'www-authenticate': 'Bearer',
      });
      return true;
    }
    if (req.method === 'POST' && hasBody(req) && !isJson(req.headers['content-type'])) {
      fail(415, `Send the body as JSON with "Content-Type: application/json" (got "${req.headers['content-type'] ?? 'none'}").`, {
        connection: 'close', // the body is not read
      });
      return true;
    }
    const client = clientName(req);
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    let body: Promise<Record<string, unknown>> | undefined;
    const ctx: RouteContext = {
      req,
      res,
      relay: opts.relay,
      client,
      route: path,
      maxBodyBytes: limit,
      body: () => (body ??= readJsonBody(req, limit)),
      complete: (creq, onText) => opts.relay.submit(client, path, creq, { signal: gone.signal, onText: onText ?? (() => {}) }),
    };
    route.handle(ctx).catch((e: unknown) => {
      if (e instanceof HttpError || e instanceof RelayError) {
        if (e.status === 413) res.setHeader('connection', 'close'); // the rest of the body is not read
        fail(e.status, e.message);
      } else if (e instanceof CompletionError && completionErrorStatus(e.code)) fail(completionErrorStatus(e.code)!, e.message);
      else fail(500, `The completion failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    return true;
  };
}
