// The bridge's git proxy: browsers cannot clone from most git hosts (no CORS), so the app
// fetches through its own origin. Only git smart-HTTP *fetch* is forwarded —
// GET …/info/refs?service=git-upload-pack and POST …/git-upload-pack, on http(s) — never a
// push, never another path: it is not an open proxy. Responses are capped in size; the
// token (Authorization) is passed through to the host and never logged.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GIT_PROXY_PREFIX, proxyTarget } from '../data/sources/git-url.ts';
import { sendJson } from './json.ts';

export { GIT_PROXY_PREFIX };

export interface GitProxyOptions {
  /** Largest response (a pack) passed back, in bytes. */
  maxResponseBytes: number;
  /** Largest request body (the want/have list). */
  maxRequestBytes: number;
  /** Idle time on the upstream connection before giving up. */
  idleTimeoutMs: number;
}

export const DEFAULT_GIT_PROXY: GitProxyOptions = {
  maxResponseBytes: Number(process.env.HOMECODER_GIT_PROXY_MAX_MB ?? 1024) * 1024 * 1024,
  maxRequestBytes: 16 * 1024 * 1024,
  idleTimeoutMs: 60_000,
};

const FORWARD_REQUEST = ['accept', 'content-type', 'authorization', 'git-protocol', 'content-encoding'];
const FORWARD_RESPONSE = ['content-type', 'cache-control', 'expires', 'pragma'];

function fail(res: ServerResponse, status: number, error: string): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, { error });
}

/** Handles a request under /git-proxy/ (the caller has checked the Host header). */
export function handleGitProxy(req: IncomingMessage, res: ServerResponse, opts: GitProxyOptions = DEFAULT_GIT_PROXY): void {
  // Only the app's own pages may use it (a page elsewhere cannot read the answer anyway).
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  if ((origin && origin !== `http://${req.headers.host}`) || (site && site !== 'same-origin' && site !== 'none')) {
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
  const headers: Record<string, string> = { 'user-agent': 'git/2.0 (homecoder)' };
  for (const h of FORWARD_REQUEST) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const up = send(url, { method: req.method, headers, timeout: opts.idleTimeoutMs }, (upRes) => {
    const status = upRes.statusCode ?? 502;
    if (status >= 300 && status < 400) {
      upRes.resume();
      fail(
        res,
        502,
        `${url.origin}${url.pathname.replace(/\/(info\/refs|git-upload-pack)$/, '')} redirects to ${upRes.headers.location ?? '?'}: clone that URL instead.`,
      );
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
    if (status === 401 || status === 403) out['x-homecoder-auth'] = 'required'; // no www-authenticate: no browser login prompt
    res.writeHead(status, out);
    let sent = 0;
    upRes.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > opts.maxResponseBytes) {
        // Cut off: the client sees a truncated pack and fails; nothing partial is kept.
        upRes.destroy();
        res.destroy();
        return;
      }
      res.write(chunk);
    });
    upRes.on('end', () => res.end());
    upRes.on('error', () => res.destroy());
  });
  up.on('timeout', () => up.destroy(new Error('timed out')));
  up.on('error', (err) => fail(res, 502, `Could not reach ${url.host}: ${err.message}.`));
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > opts.maxRequestBytes) {
      up.destroy();
      fail(res, 413, `Request body over ${opts.maxRequestBytes} bytes.`);
      return;
    }
    up.write(chunk);
  });
  req.on('end', () => up.end());
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
}
