// Which bridge this tab works with, found once at start: the bridge that served the app (same
// origin, `npm start`), or one paired with this app on another origin (`homecoder bridge`:
// its printed link carries a one-time code in the fragment, traded here for a secret that
// this browser keeps until the Use page revokes it), or none: everything but editors and git
// clones works without one. The engine worker's tab socket and the sources worker's git
// route follow what is found.
import { engine, sources } from './workers.ts';
import { tabSocketUrl } from '../../serve/bridge-link.ts';
import { PAIR_HEADER, PAIR_PATH, SECRET_PROTOCOL_PREFIX, TAB_PROTOCOL, UNPAIR_PATH } from '../../serve/tab-protocol.ts';
import type { GitRoute } from '../../data/sources/git-url.ts';

const PAIRING_STORAGE = 'homecoder.bridgePairing';
const CORS_PROXY_STORAGE = 'homecoder.gitCorsProxy';
/** Where `homecoder bridge` listens unless told otherwise. */
export const DEFAULT_BRIDGE = 'http://127.0.0.1:8008';

export type BridgeState =
  | { kind: 'probing' }
  | { kind: 'same-origin'; origin: string }
  | { kind: 'paired'; origin: string; secret: string }
  | { kind: 'none' };

interface Pairing {
  bridge: string;
  secret: string;
  pairedAt: string;
}

export const bridge = $state<{ state: BridgeState; corsProxy: string; pairError: string }>({
  state: { kind: 'probing' },
  corsProxy: localStorage.getItem(CORS_PROXY_STORAGE) ?? '',
  pairError: '',
});

/** A pairing link may name only a bridge on this machine: never send the tab's work elsewhere. */
function loopbackOrigin(text: string | null): string | undefined {
  if (!text) return undefined;
  try {
    const u = new URL(text);
    const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
    return u.protocol === 'http:' && loopback ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pairing offer in the address (`#pair=CODE&bridge=ORIGIN`), taken out of it at once so the
 * code stays in neither the address bar nor history; the app opens on the Use page.
 */
export function takePairingOffer(): { code: string; bridge: string } | undefined {
  if (!location.hash.startsWith('#pair=')) return undefined;
  const p = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, '', `${location.pathname}${location.search}#/use`);
  window.dispatchEvent(new HashChangeEvent('hashchange')); // the shell shows the Use page
  const code = p.get('pair');
  const origin = loopbackOrigin(p.get('bridge'));
  if (!code || !origin) {
    bridge.pairError = 'This pairing link is damaged or names a bridge that is not on this machine: run `homecoder bridge` again.';
    return undefined;
  }
  return { code, bridge: origin };
}

async function pair(offer: { code: string; bridge: string }): Promise<Pairing | undefined> {
  try {
    const res = await fetch(`${offer.bridge}${PAIR_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: offer.code }),
    });
    const body = (await res.json()) as { secret?: string; error?: string };
    if (!res.ok || !body.secret) throw new Error(body.error ?? `HTTP ${res.status}`);
    const pairing = { bridge: offer.bridge, secret: body.secret, pairedAt: new Date().toISOString() };
    localStorage.setItem(PAIRING_STORAGE, JSON.stringify(pairing));
    bridge.pairError = '';
    return pairing;
  } catch (e) {
    bridge.pairError = `Could not pair with the bridge at ${offer.bridge}: ${(e as Error).message}. Is \`homecoder bridge\` still running? Run it again and open the new link.`;
    return undefined;
  }
}

function storedPairing(): Pairing | undefined {
  try {
    const p = JSON.parse(localStorage.getItem(PAIRING_STORAGE) ?? 'null') as Pairing | null;
    return p && loopbackOrigin(p.bridge) && typeof p.secret === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a bridge served this page: the bridge answers /health with its name; a static host does not. */
async function servedByBridge(): Promise<boolean> {
  try {
    const res = await fetch('/health', { cache: 'no-store' });
    const body = res.ok && (res.headers.get('content-type') ?? '').includes('json') ? ((await res.json()) as { name?: string }) : {};
    return body.name === 'homecoder';
  } catch {
    return false;
  }
}

/** How clones reach git hosts now. */
function gitRoute(): GitRoute {
  const s = bridge.state;
  if (s.kind === 'same-origin') return { kind: 'bridge', origin: s.origin };
  if (s.kind === 'paired') return { kind: 'bridge', origin: s.origin, headers: { [PAIR_HEADER]: s.secret } };
  return bridge.corsProxy ? { kind: 'cors-proxy', url: bridge.corsProxy } : { kind: 'none' };
}

/** Points the workers at the bridge found (or at none). */
async function apply(): Promise<void> {
  const s = bridge.state;
  await engine().linkBridge(
    s.kind === 'same-origin'
      ? { url: tabSocketUrl(s.origin) }
      : s.kind === 'paired'
        ? { url: tabSocketUrl(s.origin), protocols: [TAB_PROTOCOL, `${SECRET_PROTOCOL_PREFIX}${s.secret}`] }
        : null,
  );
  await sources().setGitRoute($state.snapshot(gitRoute()));
}

/** Finds the bridge (pairing first when the address offers it) and links the workers to it. */
export async function findBridge(offer = takePairingOffer()): Promise<BridgeState> {
  const fresh = offer ? await pair(offer) : undefined;
  const paired = fresh ?? storedPairing();
  if (await servedByBridge()) bridge.state = { kind: 'same-origin', origin: location.origin };
  else if (paired) bridge.state = { kind: 'paired', origin: paired.bridge, secret: paired.secret };
  else bridge.state = { kind: 'none' };
  await apply();
  return bridge.state;
}

/** The bridge's address for editors and requests: the one found, else where `homecoder bridge` listens. */
export function bridgeOrigin(): string {
  const s = bridge.state;
  return s.kind === 'same-origin' || s.kind === 'paired' ? s.origin : DEFAULT_BRIDGE;
}

/** A request to the bridge found, with what lets this tab in (the cookie goes by itself; a paired tab adds its secret). */
export function bridgeFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const s = bridge.state;
  if (s.kind !== 'same-origin' && s.kind !== 'paired') return Promise.reject(new TypeError('no bridge'));
  const headers = new Headers(init.headers);
  if (s.kind === 'paired') headers.set(PAIR_HEADER, s.secret);
  return fetch(`${s.kind === 'paired' ? s.origin : ''}${path}`, { ...init, headers });
}

/** Forgets the pairing here and on the bridge (which closes this tab's socket). */
export async function unpair(): Promise<void> {
  if (bridge.state.kind !== 'paired') return;
  try {
    await bridgeFetch(UNPAIR_PATH, { method: 'POST' });
  } catch {
    // the bridge is not running: its record stays until it is revoked there too, but without this
    // tab's secret (forgotten below) it lets nobody in
  }
  localStorage.removeItem(PAIRING_STORAGE);
  bridge.state = { kind: 'none' };
  await apply();
}

/** The CORS proxy git clones go through without a bridge (empty: none; never one the user did not set). */
export async function setCorsProxy(url: string): Promise<void> {
  bridge.corsProxy = url.trim();
  if (bridge.corsProxy) localStorage.setItem(CORS_PROXY_STORAGE, bridge.corsProxy);
  else localStorage.removeItem(CORS_PROXY_STORAGE);
  await sources().setGitRoute($state.snapshot(gitRoute()));
}

/** The command that starts a bridge for this app, as the pages show it. */
export function bridgeCommand(): string {
  const app = `${location.origin}${location.pathname}`;
  return `npm run -s homecoder -- bridge --app ${app}`;
}
