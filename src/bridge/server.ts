// The bridge's HTTP server: the built app, /health, the demo model under /hub, the tab's
// WebSocket, the editor APIs and the git proxy, each behind the Host check.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import sirv from 'sirv';
import { hostAllowed } from './hosts.ts';
import { DEMO_ENDPOINT_PATH } from '../model/fixtures/demo-repo.ts';
import { Relay, type Backend } from './relay.ts';
import { createEditorApi } from './editor-api/index.ts';
import { attachTabSocket } from './tab-socket.ts';
import { sendJson } from './json.ts';
import { DEFAULT_GIT_PROXY, GIT_PROXY_PREFIX, handleGitProxy, type GitProxyOptions } from './git-proxy.ts';

export interface BridgeOptions {
  host: string;
  port: number;
  /** The built app (vite build output). */
  appDir: string;
  version: string;
  /** Editor APIs: optional API key, body cap, and a headless backend (`homecoder serve`). */
  apiKey?: string;
  maxBodyBytes?: number;
  backend?: Backend;
  /** Caps of the git smart-HTTP proxy (src/bridge/git-proxy.ts). */
  gitProxy?: Partial<GitProxyOptions>;
}

export interface Bridge {
  server: Server;
  url: string;
  relay: Relay;
  close(): Promise<void>;
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const started = Date.now();
  const relay = new Relay((b) =>
    b
      ? 'The app is connected but no model is loaded: load one on the Model page, then choose what serves on the Use page.'
      : `No model is serving completions: open the app at http://127.0.0.1:${port()}/ in Chrome and load a model, or start a headless backend with \`homecoder serve --model DIR\`.`,
  );
  if (opts.backend) relay.attach(opts.backend);
  const editorApi = createEditorApi({ relay, apiKey: opts.apiKey, maxBodyBytes: opts.maxBodyBytes });
  const app = sirv(opts.appDir, { single: true, dev: false, etag: true, gzip: false, brotli: false });
  // The demo model in the hub's layout: real 404s (no SPA fallback), so the hub client sees missing files.
  const hubDir = join(opts.appDir, DEMO_ENDPOINT_PATH);
  const hub = existsSync(hubDir) ? sirv(hubDir, { dev: false, etag: true, gzip: false, brotli: false }) : undefined;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!hostAllowed(req.headers.host, opts.host)) {
      sendJson(res, 403, {
        error: `Host "${req.headers.host ?? ''}" is not allowed. Open the app at http://127.0.0.1:${port()}/ (the bridge answers loopback names only).`,
      });
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/health' && editorApi(req, res)) return;
    if (path === '/health') {
      sendJson(res, 200, { status: 'ok', name: 'homecoder', version: opts.version, uptime_s: Math.round((Date.now() - started) / 1000) });
      return;
    }
    if (path.startsWith(GIT_PROXY_PREFIX)) return handleGitProxy(req, res, { ...DEFAULT_GIT_PROXY, ...opts.gitProxy });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: `${req.method} ${path} is not a route of the bridge.` });
      return;
    }
    const notFound = () => sendJson(res, 404, { error: `Not found: ${path}` });
    if (path.startsWith(`${DEMO_ENDPOINT_PATH}/`)) {
      req.url = req.url!.slice(DEMO_ENDPOINT_PATH.length);
      if (hub) hub(req, res, notFound);
      else notFound();
      return;
    }
    app(req, res, notFound);
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 15_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const tabs = attachTabSocket(server, relay, { listenHost: opts.host, port });
  function port(): number {
    return (server.address() as AddressInfo).port;
  }
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    url: `http://${shownHost}:${port()}/`,
    relay,
    close: () =>
      new Promise<void>((resolve) => {
        tabs.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
