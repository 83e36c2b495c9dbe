// A local HTTP server with the Hugging Face hub's layout ({repo}/resolve/{rev}/{file}),
// Range requests, the sha256 in X-Linked-Etag for weights, gated repos, and knobs to
// slow it down or cut a file short, so downloads can be tested for real on loopback.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

export interface MockHub {
  url: string;
  /** Every request: method, path, range header. */
  log: Array<{ method: string; path: string; range?: string }>;
  /** Bytes per second for weight files (0: unlimited). */
  throttle: number;
  /** Files to cut short once (their next full GET sends half the bytes). */
  truncateOnce: Set<string>;
  close(): Promise<void>;
}

export async function startMockHub(
  repos: Map<string, Map<string, Uint8Array>>,
  opts: { gated?: string[]; token?: string } = {},
): Promise<MockHub> {
  const hub: MockHub = { url: '', log: [], throttle: 0, truncateOnce: new Set(), close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    // Like the real hub, any page may read it (CORS), Range and Authorization included.
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', 'range, authorization');
    res.setHeader('access-control-expose-headers', 'content-range, content-length, accept-ranges, x-linked-etag, x-linked-size');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    hub.log.push({ method: req.method ?? '', path, range: req.headers.range });
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const files = m && repos.get(m[1]);
    if (!m || !files) return void res.writeHead(404).end('Repository not found');
    if (opts.gated?.includes(m[1]) && req.headers.authorization !== `Bearer ${opts.token}`)
      return void res.writeHead(401).end('Access to this model is restricted');
    const data = files.get(m[3]);
    if (!data) return void res.writeHead(404).end('Entry not found');
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    if (m[3].endsWith('.safetensors')) headers['x-linked-etag'] = `"${createHash('sha256').update(data).digest('hex')}"`;
    let start = 0;
    const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (r) {
      start = Number(r[1]);
      if (start >= data.length) return void res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
      headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    }
    let body = data.subarray(start);
    headers['content-length'] = String(body.length);
    res.writeHead(r ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    if (!r && hub.truncateOnce.delete(m[3])) body = body.subarray(0, Math.floor(body.length / 2)); // a connection cut short
    const step = 16384;
    for (let i = 0; i < body.length && !res.destroyed; i += step) {
      res.write(body.subarray(i, i + step));
      if (hub.throttle && m[3].endsWith('.safetensors')) await new Promise((ok) => setTimeout(ok, (1000 * step) / hub.throttle));
    }
    res.end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () =>
    new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return hub;
}
