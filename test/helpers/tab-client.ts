// A client of the bridge's tab WebSocket from outside a browser (the `ws` package): it can
// forge Origin and send any cookie — what a local process could do — and, given the tab's
// cookie, plays the app tab with scripted answers.
import WebSocket from 'ws';
import type { ServingInfo } from '../../src/serve/types.ts';

export const SERVING: ServingInfo = { model: 'homecoder', base: 'test', adapters: [], contextLength: 64, parameters: 1 };

export interface TabClient {
  ws: WebSocket;
  /** 'complete' messages received. */
  requests: Array<{ id: number }>;
  send(msg: unknown): void;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * Opens the socket of the bridge at `origin` (sent as Origin unless `headers` names another);
 * resolves with the client, or with the HTTP status when the upgrade is refused.
 */
export function openTab(
  origin: string,
  headers: Record<string, string>,
  onComplete?: (msg: { id: number; request: unknown }, tab: TabClient) => void,
  /** Subprotocols to offer (a paired tab offers its secret this way). */
  protocols: string[] = [],
): Promise<TabClient | number> {
  const url = `${origin.replace(/^http/, 'ws')}/bridge/tab`;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { headers: { origin, ...headers } });
    let onClose: (c: { code: number; reason: string }) => void = () => {};
    const tab: TabClient = {
      ws,
      requests: [],
      send: (msg) => ws.send(JSON.stringify(msg)),
      closed: new Promise((r) => (onClose = r)),
    };
    ws.on('close', (code, reason) => onClose({ code, reason: reason.toString() }));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; id: number; request: unknown };
      if (msg.type === 'complete') {
        tab.requests.push(msg);
        onComplete?.(msg, tab);
      }
    });
    ws.on('open', () => resolve(tab));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

export function doneMessage(id: number, text = 'ok') {
  return {
    type: 'done',
    id,
    result: {
      text,
      finishReason: 'stop',
      promptTokens: 1,
      completionTokens: 1,
      reusedTokens: 0,
      truncated: false,
      prefillMs: 0,
      decodeMs: 0,
    },
  };
}
