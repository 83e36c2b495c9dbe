// The tab's end of the bridge WebSocket (same origin, /bridge/tab): tells the bridge what
// serves, runs the completions it relays, streams text back, and stops a completion when
// the bridge cancels it. Reconnects with back-off when the bridge restarts. The bridge lets
// the socket in on the tab's cookie (set by the printed link), which the browser sends itself.
import type { BridgeToTab, TabToBridge } from './tab-protocol.ts';
import { TAB_SOCKET_PATH, parseBridgeToTab } from './tab-protocol.ts';
import type { InferenceService } from './inference-service.ts';
import { HomecoderError } from '../errors.ts';

export class BridgeLink {
  private ws?: WebSocket;
  private running = new Map<number, AbortController>();
  private delay = 500;
  connected = false;

  constructor(
    private url: string,
    private inference: InferenceService,
  ) {
    inference.onChange(() => this.sendServing());
  }

  static forLocation(loc: { protocol: string; host: string }, inference: InferenceService): BridgeLink {
    return new BridgeLink(`${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}${TAB_SOCKET_PATH}`, inference);
  }

  start(): void {
    const ws = (this.ws = new WebSocket(this.url));
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
