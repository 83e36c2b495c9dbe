// The bridge's git proxy: browsers cannot clone from most git hosts (no CORS), so the app
// fetches through its own origin. Only git smart-HTTP *fetch* is forwarded —
// GET …/info/refs?service=git-upload-pack and POST …/git-upload-pack, on http(s) — never a
// push, never another path: it is not an open proxy. Only public addresses are reached
// (address-guard.ts). Only git's own content types come back, with nosniff and a sandbox CSP,
// so nothing an upstream sends can run as a page on the app's origin. Responses stream with
// backpressure and are capped in size; the token (Authorization) is passed through to the
// host and never logged.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { pipeline, Transform } from 'node:stream';
import { GIT_PROXY_PREFIX, proxyTarget } from '../data/sources/git-url.ts';
import { sendJson } from './json.ts';
import { pinnedLookup, resolveHost, type Resolved } from './address-guard.ts';

export { GIT_PROXY_PREFIX };

export interface GitProxyOptions {
  /** Largest response (a pack) passed back, in bytes. */
  maxResponseBytes: number;
  /** Largest request body (the want/have list). */
  maxRequestBytes: number;
  /** Idle time on the upstream connection before giving up. */
  idleTimeoutMs: number;
  /**
   * Hosts reached even on loopback or private addresses ("host" or "host:port"), e.g. a git
   * server on the LAN (--git-allow-host, HOMECODER_GIT_ALLOW_HOSTS).
   */
  allowHosts: string[];
}

export const DEFAULT_GIT_PROXY: GitProxyOptions = {
  maxResponseBytes: Number(process.env.HOMECODER_GIT_PROXY_MAX_MB ?? 1024) * 1024 * 1024,
  maxRequestBytes: 16 * 1024 * 1024,
  idleTimeoutMs: 60_000,
  allowHosts: (process.env.HOMECODER_GIT_ALLOW_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean),
};

/** What a git server answers to each of the two requests (a parameter such as charset may follow). */
const CONTENT_TYPE = {
  refs: 'application/x-git-upload-pack-advertisement',
  'upload-pack': 'application/x-git-upload-pack-result',
} as const;

/** On every proxy answer: never sniffed into HTML, never run as a page. */
const SAFE_HEADERS = { 'x-content-type-options': 'nosniff', 'content-security-policy': 'sandbox' };

const FORWARD_REQUEST = ['accept', 'content-type', 'authorization', 'git-protocol', 'content-encoding'];
const FORWARD_RESPONSE = ['content-type', 'cache-control', 'expires', 'pragma'];

function fail(res: ServerResponse, status: number, error: string): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, { error });
}

/** Handles a request under /git-proxy/ (the caller has checked the Host header and the tab's access). */
export function handleGitProxy(
  req: IncomingMessage,
  res: ServerResponse,
  opts: GitProxyOptions = DEFAULT_GIT_PROXY,
  /** The request is a paired app tab's on another origin, with its secret (src/bridge/pair-routes.ts). */
  paired = false,
): void {
  for (const [k, v] of Object.entries(SAFE_HEADERS)) res.setHeader(k, v);
  // Only the app's own pages (or the paired app's, checked by the caller) may use it.
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  if (!paired && ((origin && origin !== `http://${req.headers.host}`) || (site && site !== 'same-origin' && site !== 'none'))) {
    fail(res, 403, 'The git proxy answers only the Homecoder app itself.');
    return;
  }
  const target = proxyTarget(req.method ?? '', req.url ?? '');
  if (!target) {
    fail(
      res,
      403,
      'The git proxy forwards only git fetches over http(s): GET /git-proxy/<http|https>/<host>/<repo>/info/refs?service=git-upload-pack and POST …/git-upload-pack.',
    );
    return;
  }
  if (target.kind === 'upload-pack' && req.headers['content-type'] !== 'application/x-git-upload-pack-request') {
    fail(res, 415, 'git-upload-pack requests must be application/x-git-upload-pack-request.');
    return;
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > opts.maxRequestBytes) {
    fail(res, 413, `Request body over ${opts.maxRequestBytes} bytes.`);
    return;
  }
  const url = new URL(target.url);
  req.pause(); // the body waits (with backpressure) until the upstream is chosen
  const allowed = opts.allowHosts.some((h) => h.toLowerCase() === url.host || h.toLowerCase() === url.hostname);
  resolveHost(url.hostname).then(
    (r) => {
      if (r.blocked && !allowed)
        return fail(
          res,
          403,
          `${url.host} resolves to ${r.blocked}, a loopback, private or link-local address: the git proxy reaches public hosts only. To clone from a server on your own network, start the bridge with --git-allow-host ${url.host}.`,
        );
      forward(req, res, opts, target.kind, url, r);
    },
    (err: Error) => fail(res, 502, `Could not resolve ${url.hostname}: ${err.message}.`),
  );
}

/** Sends the request to the address checked beforehand (`pinned`) and streams the answer back. */
function forward(
  req: IncomingMessage,
  res: ServerResponse,
  opts: GitProxyOptions,
  kind: keyof typeof CONTENT_TYPE,
  url: URL,
  pinned: Resolved,
): void {
  const headers: Record<string, string> = { 'user-agent': 'git/2.0 (homecoder)' };
  for (const h of FORWARD_REQUEST) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const lookup = pinnedLookup(pinned) as unknown as LookupFunction;
  const up = send(url, { method: req.method, headers, timeout: opts.idleTimeoutMs, lookup }, (upRes) => {
    const status = upRes.statusCode ?? 502;
    const repo = `${url.origin}${url.pathname.replace(/\/(info\/refs|git-upload-pack)$/, '')}`;
    if (status >= 300 && status < 400) {
      upRes.resume();
      fail(res, 502, `${repo} redirects to ${upRes.headers.location ?? '?'}: clone that URL instead.`);
      return;
    }
    if (status < 200 || status >= 300) {
      // The host's own error page is not passed on (it could be HTML): its status is.
      upRes.resume();
      if (status === 401 || status === 403) res.setHeader('x-homecoder-auth', 'required'); // no www-authenticate: no browser login prompt
      fail(res, status, `${url.host} answered HTTP ${status} for ${repo}.`);
      return;
    }
    const type = (upRes.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== CONTENT_TYPE[kind]) {
      upRes.destroy();
      fail(res, 502, `${repo} answered with "${type || 'no content type'}", not ${CONTENT_TYPE[kind]}: it is not a git smart-HTTP server.`);
      return;
    }
    const length = Number(upRes.headers['content-length'] ?? 0);
    if (length > opts.maxResponseBytes) {
      upRes.destroy();
      fail(
        res,
        502,
        `The repository's pack is ${length} bytes, over the proxy's cap of ${opts.maxResponseBytes} (HOMECODER_GIT_PROXY_MAX_MB).`,
      );
      return;
    }
    const out: Record<string, string> = {};
    for (const h of FORWARD_RESPONSE) {
      const v = upRes.headers[h];
      if (typeof v === 'string') out[h] = v;
    }
    res.writeHead(status, out);
    let sent = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        // Over the cap: cut off; the client sees a truncated pack and fails, nothing partial is kept.
        if (sent > opts.maxResponseBytes) done(new Error(`over the cap of ${opts.maxResponseBytes} bytes`));
        else done(null, chunk);
      },
    });
    // pipeline: a slow client pauses the upstream instead of piling the pack up in memory.
    pipeline(upRes, cap, res, () => {});
  });
  up.on('timeout', () => up.destroy(new Error('timed out')));
  up.on('error', (err) => fail(res, 502, `Could not reach ${url.host}: ${err.message}.`));
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > opts.maxRequestBytes) {
      up.destroy();
      req.pause();
      fail(res, 413, `Request body over ${opts.maxRequestBytes} bytes.`);
      return;
    }
    if (!up.write(chunk)) {
      req.pause();
      up.once('drain', () => req.resume());
    }
  });
  req.on('end', () => up.end());
  req.on('error', () => up.destroy()); // the client went away mid-upload
  req.resume();
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
}
