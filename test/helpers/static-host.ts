// A plain static file server on loopback (sirv, as any static host serves files: no SPA
// fallback, no headers of the bridge), serving a folder under a base path such as
// `/homecoder/` (a GitHub Pages project URL), or a fixed page (another site's origin).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sirv from 'sirv';

export interface StaticHost {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The folder's address: origin + base. */
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server, base: string): Promise<StaticHost> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}${base}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Serves `dir` under `base` (which starts and ends with /); anything else is 404. `live`: each
 * request reads the files again (a test that deploys a new version into `dir`).
 */
export function serveStatic(dir: string, base = '/', live = false): Promise<StaticHost> {
  const files = sirv(dir, { dev: live, etag: true });
  const server = createServer((req, res) => {
    const notFound = () => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not found');
    };
    if (!req.url?.startsWith(base)) return notFound();
    req.url = `/${req.url.slice(base.length)}`;
    files(req, res, notFound);
  });
  return listen(server, base);
}

/** Answers `html` on every path (another site the user visits). */
export function servePage(html: string): Promise<StaticHost> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  return listen(server, '/');
}
