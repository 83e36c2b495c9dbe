// The bridge's HTTP server: the built app, /health, the editor APIs, the tab's WebSocket and
// the git proxy. Who may use what (docs/SECURITY.md): the Host must be loopback (or the
// listen address) on every request; the app's pages need the tab's cookie, set by the
// printed link; /bridge/*, /git-proxy and the WebSocket need that cookie (or the API key);
// editor routes need the API key when there is one; pages get a strict CSP. A tab on another
// origin (the static site) that paired with the bridge shows its secret instead of the cookie
// (pair-routes.ts); only it gets CORS headers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import sirv from 'sirv';
import { crossSiteReason, hostAllowed, isLoopbackAddress } from './hosts.ts';
import { TabAccess, newSecret } from './access.ts';
import { BridgeError } from './errors.ts';
import { DEMO_ENDPOINT_PATH } from '../model/fixtures/demo-repo.ts';
import { Relay, type Backend, type RelayDeadlines } from './relay.ts';
import { createEditorApi, keyOk } from './editor-api/index.ts';
import { attachTabSocket } from './tab-socket.ts';
import { sendJson } from './json.ts';
import { DEFAULT_GIT_PROXY, GIT_PROXY_PREFIX, handleGitProxy, type GitProxyOptions } from './git-proxy.ts';
import { Pairings } from './pairing.ts';
import { PairRoutes } from './pair-routes.ts';

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
  /** Whether an app tab may attach as a backend (default true; `homecoder serve` asks for --allow-tab). */
  allowTab?: boolean;
  /** Deadlines of each relayed request (default: first token 120 s, total 300 s). */
  deadlines?: RelayDeadlines;
  /** Origins besides the Hugging Face hub the app may download models from (its CSP connect-src). */
  hubOrigins?: string[];
  /** The tab's secret (default: a new random one per start). */
  secret?: string;
  /** Tabs of other origins paired with this bridge (default: none, kept in memory). */
  pairings?: Pairings;
}

/** Where the app's pages may connect: itself (and its WebSocket), the hub and its download hosts. */
const HUB_SOURCES = ['https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co'];

export function appCsp(hubOrigins: string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "worker-src 'self'",
    `connect-src 'self' ${[...HUB_SOURCES, ...hubOrigins].join(' ')}`,
    "style-src 'self' 'unsafe-inline'", // CodeMirror and Svelte set styles at run time
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export interface Bridge {
  server: Server;
  /** The app's address (without the secret). */
  url: string;
  /** The address to open: the app's address with the tab's secret. */
  appUrl: string;
  relay: Relay;
  pairings: Pairings;
  close(): Promise<void>;
}

/** Refuses an address beyond loopback without an API key (BRIDGE_NEEDS_API_KEY). */
export function checkListen(host: string, apiKey: string | undefined): void {
  if (!isLoopbackAddress(host) && !apiKey)
    throw new BridgeError(
      'BRIDGE_NEEDS_API_KEY',
      `Refusing to listen on ${host} without an API key: anyone on your network could use the model and the git proxy. Give --api-key KEY (or HOMECODER_API_KEY), or listen on 127.0.0.1.`,
    );
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  checkListen(opts.host, opts.apiKey);
  const started = Date.now();
  const relay = new Relay(
    (b) =>
      b
        ? 'The app is connected but no model is loaded: load one on the Model page, then choose what serves on the Use page.'
        : `No model is serving completions: open the app with the link the bridge printed (or \`homecoder url\`) in Chrome and load a model, or start a headless backend with \`homecoder serve --model DIR\`.`,
    opts.deadlines,
  );
  if (opts.backend) relay.attach(opts.backend);
  const access = new TabAccess(opts.secret ?? newSecret(), port);
  const pairings = opts.pairings ?? new Pairings(undefined);
  const pairRoutes = new PairRoutes(pairings, (origin) => tabs.closeOrigin(origin));
  const tabOk = (req: IncomingMessage) => access.tabSecretOk(req) || pairRoutes.paired(req);
  const editorApi = createEditorApi({
    relay,
    apiKey: opts.apiKey,
    maxBodyBytes: opts.maxBodyBytes,
    tabOk,
    crossSite: (req) => (pairRoutes.paired(req) ? undefined : crossSiteReason(req, opts.host, port())),
  });
  const csp = appCsp(opts.hubOrigins);
  const app = sirv(opts.appDir, { single: true, dev: false, etag: true, gzip: false, brotli: false });
  // The demo model in the hub's layout: real 404s (no SPA fallback), so the hub client sees missing files.
  const hubDir = join(opts.appDir, DEMO_ENDPOINT_PATH);
  const hub = existsSync(hubDir) ? sirv(hubDir, { dev: false, etag: true, gzip: false, brotli: false }) : undefined;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!hostAllowed(req.headers.host, opts.host, req.socket.remoteAddress)) {
      sendJson(res, 403, {
        error: `Host "${req.headers.host ?? ''}" is not allowed. Open the app at http://127.0.0.1:${port()}/ (the bridge answers loopback names only).`,
      });
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (pairRoutes.handle(req, res, path)) return;
    if (path !== '/health' && editorApi(req, res)) return;
    if (path === '/health') {
      sendJson(res, 200, { status: 'ok', name: 'homecoder', version: opts.version, uptime_s: Math.round((Date.now() - started) / 1000) });
      return;
    }
    if (path.startsWith(GIT_PROXY_PREFIX)) {
      if (!tabOk(req) && !(opts.apiKey && keyOk(req, opts.apiKey))) {
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('content-security-policy', 'sandbox');
        sendJson(res, 401, {
          error: 'The git proxy is for the Homecoder app: open it with the link the bridge printed (or run `homecoder url`).',
        });
        return;
      }
      return handleGitProxy(req, res, { ...DEFAULT_GIT_PROXY, ...opts.gitProxy }, pairRoutes.paired(req));
    }
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
    res.setHeader('content-security-policy', csp);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    if (access.handleToken(req, res)) return;
    // A page (not an asset) without the cookie: say how to get in, instead of an app that
    // cannot reach its bridge.
    const last = path.split('/').pop() ?? '';
    const isPage = path.endsWith('.html') || !/\.[A-Za-z0-9]+$/.test(last);
    if (isPage && !tabOk(req)) return access.sendLoginPage(res);
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
  const tabs = attachTabSocket(server, relay, { listenHost: opts.host, port, access, allowTab: opts.allowTab ?? true, pairings });
  function port(): number {
    return (server.address() as AddressInfo).port;
  }
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    url: `http://${shownHost}:${port()}/`,
    appUrl: access.appUrl(`http://${shownHost}:${port()}/`),
    relay,
    pairings,
    close: () =>
      new Promise<void>((resolve) => {
        tabs.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
