// The bridge's answers to a paired tab on another origin (src/bridge/pairing.ts): CORS
// preflights (with Chrome's Private Network Access: a public site asking for 127.0.0.1),
// POST /bridge/pair (the one-time code for a secret) and POST /bridge/unpair. CORS headers
// go only to an origin the bridge knows, and a request counts as the tab's only with that
// origin's secret; every other page still gets no CORS header and nothing readable.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readJsonBody } from './editor-api/http.ts';
import { sendJson } from './json.ts';
import type { Pairings } from './pairing.ts';
import { PAIR_HEADER, PAIR_PATH, UNPAIR_PATH } from '../serve/tab-protocol.ts';

/** Request headers a paired tab may send across origins (its secret, JSON, git's own). */
const ALLOWED_HEADERS = [PAIR_HEADER, 'content-type', 'authorization', 'git-protocol', 'accept', 'x-homecoder-client'];

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export class PairRoutes {
  constructor(
    private pairings: Pairings,
    /** Called when an origin is unpaired: its tab sockets close. */
    private onRevoked: (origin: string) => void,
  ) {}

  /** Whether the request is from a paired origin and carries that origin's secret. */
  paired(req: IncomingMessage): boolean {
    return this.pairings.check(headerOf(req, 'origin'), headerOf(req, PAIR_HEADER));
  }

  /** Lets the paired origin read this answer (called only for requests that are `paired`, or the pairing itself). */
  private allow(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('access-control-allow-origin', headerOf(req, 'origin')!);
    res.setHeader('vary', 'Origin');
  }

  /** Answers what is the pairing's: preflights, /bridge/pair, /bridge/unpair; CORS on a paired request. Returns whether it answered. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const origin = headerOf(req, 'origin');
    if (req.method === 'OPTIONS' && origin && headerOf(req, 'access-control-request-method')) {
      this.preflight(req, res, origin);
      return true;
    }
    if (path === PAIR_PATH || path === UNPAIR_PATH) {
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: `${req.method} ${path}: use POST.` }, { allow: 'POST' });
        return true;
      }
      void (path === PAIR_PATH ? this.pair(req, res, origin) : this.unpair(req, res, origin));
      return true;
    }
    if (this.paired(req)) this.allow(req, res);
    return false;
  }

  private preflight(req: IncomingMessage, res: ServerResponse, origin: string): void {
    // No secret rides on a preflight: it gets an answer only for an origin the bridge paired
    // with (or offered a code to); the real request still needs the secret.
    if (!this.pairings.knows(origin)) {
      res.writeHead(403, { 'content-length': 0 });
      res.end();
      return;
    }
    const asked = (headerOf(req, 'access-control-request-headers') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    const headers: Record<string, string> = {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': ALLOWED_HEADERS.filter((h) => asked.includes(h)).join(', ') || PAIR_HEADER,
      'access-control-max-age': '600',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Private-Network',
      'content-length': '0',
    };
    // Chrome's Private Network Access: a public page may reach loopback only when asked and allowed.
    if (headerOf(req, 'access-control-request-private-network') === 'true') headers['access-control-allow-private-network'] = 'true';
    res.writeHead(204, headers);
    res.end();
  }

  private async body(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | undefined> {
    if ((req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() !== 'application/json') {
      sendJson(res, 415, { error: 'Send the body as JSON with "Content-Type: application/json".' }, { connection: 'close' });
      return undefined;
    }
    try {
      return await readJsonBody(req, 4096);
    } catch (e) {
      sendJson(res, e instanceof HttpError ? e.status : 400, { error: (e as Error).message }, { connection: 'close' });
      return undefined;
    }
  }

  private async pair(req: IncomingMessage, res: ServerResponse, origin: string | undefined): Promise<void> {
    const refuse = () =>
      sendJson(res, 403, {
        error:
          'This pairing link is not (or no longer) valid: run `homecoder bridge --app URL` again and open the link it prints in the app.',
      });
    if (!origin || !this.pairings.knows(origin)) return refuse();
    const body = await this.body(req, res);
    if (!body) return;
    const secret = typeof body.code === 'string' ? this.pairings.claim(origin, body.code) : undefined;
    if (!secret) return refuse();
    this.allow(req, res);
    sendJson(res, 200, { secret }, { 'cache-control': 'no-store' });
  }

  private async unpair(req: IncomingMessage, res: ServerResponse, origin: string | undefined): Promise<void> {
    const secret = headerOf(req, PAIR_HEADER);
    if (!origin || !secret || !this.pairings.revoke(origin, secret)) {
      sendJson(res, 403, { error: 'Only the paired app tab can revoke its own pairing.' });
      return;
    }
    this.allow(req, res);
    this.onRevoked(origin);
    sendJson(res, 200, { revoked: origin });
  }
}
