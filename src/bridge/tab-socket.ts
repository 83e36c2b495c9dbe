// The app tab as a completion backend, over a WebSocket on the bridge's own origin
// (/bridge/tab). The upgrade is refused unless it carries the tab's cookie (only the printed
// link sets it: a local process that forges Origin still lacks it), Origin is the app's own
// origin (WebSockets bypass CORS) and Host is loopback. Every message is checked; a malformed
// one closes that socket and nothing else. Each connected tab is a backend; the newest one
// with a model loaded serves. A tab on another origin paired with the bridge (pairing.ts)
// offers its secret as a subprotocol instead: it gets in only from that very origin.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Backend, Relay } from './relay.ts';
import { cancelledResult } from './relay.ts';
import { hostAllowed, originAllowed } from './hosts.ts';
import type { TabAccess } from './access.ts';
import { SECRET_PROTOCOL_PREFIX, TAB_PROTOCOL, type Pairings } from './pairing.ts';
import type { CompletionRequest, CompletionResult, ServingInfo } from '../serve/types.ts';
import type { BridgeToTab } from '../serve/tab-protocol.ts';
import { TAB_SOCKET_PATH, parseTabToBridge } from '../serve/tab-protocol.ts';
import { CompletionError, completionErrorStatus, type CompletionErrorCode } from '../serve/errors.ts';

export { originAllowed };

class TabBackend implements Backend {
  readonly kind = 'tab' as const;
  private serving?: ServingInfo;
  private next = 0;
  private pending = new Map<number, { onText: (d: string) => void; resolve: (r: CompletionResult) => void; reject: (e: Error) => void }>();

  constructor(private ws: WebSocket) {
    ws.on('message', (data) => {
      if (ws.readyState !== ws.OPEN) return; // closing: nothing more from this tab counts
      const p = parseTabToBridge(String(data));
      if (!p.ok) {
        this.serving = undefined; // serves nothing more while the socket closes
        ws.close(1008, `invalid message: ${p.reason}`.slice(0, 120));
        return;
      }
      const msg = p.msg;
      if (msg.type === 'serving') this.serving = msg.info ?? undefined;
      else if (msg.type === 'text') this.pending.get(msg.id)?.onText(msg.delta);
      else if (msg.type === 'done') this.settle(msg.id)?.resolve(msg.result);
      else if (msg.type === 'error')
        this.settle(msg.id)?.reject(
          // A serving error keeps its code, so the editor gets its status (400, 404…), not 500.
          msg.code && completionErrorStatus(msg.code)
            ? new CompletionError(msg.code as CompletionErrorCode, msg.message)
            : new Error(msg.message),
        );
    });
  }

  private settle(id: number) {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  private send(msg: BridgeToTab): void {
    this.ws.send(JSON.stringify(msg));
  }

  info(): ServingInfo | undefined {
    return this.serving;
  }

  active(): number {
    return this.pending.size;
  }

  complete(request: CompletionRequest, opts: { signal: AbortSignal; onText: (delta: string) => void }): Promise<CompletionResult> {
    if (opts.signal.aborted) return Promise.resolve(cancelledResult());
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { onText: opts.onText, resolve, reject });
      opts.signal.addEventListener('abort', () => this.pending.has(id) && this.send({ type: 'cancel', id }), { once: true });
      this.send({ type: 'complete', id, request });
    });
  }

  /** The tab went away: everything in flight ends. */
  closed(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error('The app tab closed while completing. Open the app again to keep serving.'));
    }
    this.serving = undefined;
  }
}

export function attachTabSocket(
  server: Server,
  relay: Relay,
  opts: { listenHost: string; port: () => number; access: TabAccess; allowTab: boolean; pairings?: Pairings },
): { connected(): number; close(): void; closeOrigin(origin: string): void } {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 8 * 1024 * 1024,
    // A paired tab offers [TAB_PROTOCOL, secret]: the answer names only TAB_PROTOCOL.
    handleProtocols: (offered) => (offered.has(TAB_PROTOCOL) ? TAB_PROTOCOL : false),
  });
  const pairedOrigin = new Map<WebSocket, string>();
  const refuse = (socket: Duplex, status: string) => {
    socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== TAB_SOCKET_PATH) return refuse(socket, '404 Not Found');
    if (!hostAllowed(req.headers.host, opts.listenHost, req.socket.remoteAddress)) return refuse(socket, '403 Forbidden');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const secret = offered.find((p) => p.startsWith(SECRET_PROTOCOL_PREFIX))?.slice(SECRET_PROTOCOL_PREFIX.length);
    let paired: string | undefined;
    if (secret !== undefined) {
      // Another origin's tab: its secret must be the one that origin was paired with.
      if (!opts.pairings?.check(req.headers.origin, secret)) return refuse(socket, '401 Unauthorized');
      paired = req.headers.origin;
    } else {
      if (!originAllowed(req.headers.origin, opts.listenHost, opts.port())) return refuse(socket, '403 Forbidden');
      if (!opts.access.tabSecretOk(req)) return refuse(socket, '401 Unauthorized');
    }
    // `homecoder serve` has its own backend: a tab attaches only when asked (--allow-tab).
    if (!opts.allowTab) return refuse(socket, '403 Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A frame over maxPayload or with bad UTF-8 is an 'error' on the socket, which ws then
      // closes (1009, 1007): without a listener it would throw and end the bridge.
      ws.on('error', () => {});
      const backend = new TabBackend(ws);
      const detach = relay.attach(backend);
      if (paired) pairedOrigin.set(ws, paired);
      ws.on('close', () => {
        pairedOrigin.delete(ws);
        backend.closed();
        detach();
      });
    });
  });
  return {
    connected: () => wss.clients.size,
    closeOrigin: (origin) => {
      for (const [ws, o] of pairedOrigin) if (o === origin) ws.close(4001, 'pairing revoked');
    },
    close: () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}
