// The tab's end of the bridge WebSocket (/bridge/tab): tells the bridge what serves, runs
// the completions it relays, streams text back, and stops a completion when the bridge
// cancels it. Reconnects with back-off when the bridge restarts. The bridge that served the
// app lets the socket in on the tab's cookie (set by the printed link), which the browser
// sends itself; a bridge paired with an app on another origin, on the secret the tab offers
// as a subprotocol (src/bridge/pairing.ts).
import type { BridgeToTab, TabToBridge } from './tab-protocol.ts';
import { TAB_SOCKET_PATH, parseBridgeToTab } from './tab-protocol.ts';
import type { InferenceService } from './inference-service.ts';
import { HomecoderError } from '../errors.ts';

/** Where the tab's socket goes: the URL, and the subprotocols it offers (a paired tab's secret). */
export interface BridgeTarget {
  url: string;
  protocols?: string[];
}

/** The tab socket of the bridge at `origin` (http(s)://host:port). */
export function tabSocketUrl(origin: string): string {
  return `${origin.replace(/^http/, 'ws').replace(/\/+$/, '')}${TAB_SOCKET_PATH}`;
}

export class BridgeLink {
  private ws?: WebSocket;
  private running = new Map<number, AbortController>();
  private delay = 500;
  private stopped = false;
  private unsubscribe: () => void;
  connected = false;

  constructor(
    private target: BridgeTarget,
    private inference: InferenceService,
  ) {
    this.unsubscribe = inference.onChange(() => this.sendServing());
  }

  /** Closes the socket for good (another bridge, or none, from now on). */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.ws?.close(1000, 'the tab left this bridge');
  }

  start(): void {
    if (this.stopped) return;
    const ws = (this.ws = new WebSocket(this.target.url, this.target.protocols ?? []));
    ws.onopen = () => {
      this.connected = true;
      this.delay = 500;
      this.sendServing();
    };
    ws.onmessage = (ev) => {
      const p = parseBridgeToTab(String(ev.data));
      // A malformed message means this is not our bridge: drop the connection (and retry).
      if (!p.ok) ws.close(4000, `invalid message: ${p.reason}`.slice(0, 120));
      else void this.handle(p.msg);
    };
    ws.onclose = () => {
      this.connected = false;
      for (const c of this.running.values()) c.abort();
      this.running.clear();
      if (this.stopped) return;
      setTimeout(() => this.start(), this.delay);
      this.delay = Math.min(this.delay * 2, 10_000);
    };
  }

  private send(msg: TabToBridge): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  sendServing(): void {
    this.send({ type: 'serving', info: this.inference.serving() ?? null });
  }

  private async handle(msg: BridgeToTab): Promise<void> {
    if (msg.type === 'cancel') {
      this.running.get(msg.id)?.abort();
      return;
    }
    const ctl = new AbortController();
    this.running.set(msg.id, ctl);
    try {
      const result = await this.inference.complete(msg.request, {
        signal: ctl.signal,
        onText: (delta) => this.send({ type: 'text', id: msg.id, delta }),
      });
      this.send({ type: 'done', id: msg.id, result });
    } catch (err) {
      const code = err instanceof HomecoderError ? err.code : undefined;
      this.send({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err), ...(code ? { code } : {}) });
    } finally {
      this.running.delete(msg.id);
    }
  }
}
