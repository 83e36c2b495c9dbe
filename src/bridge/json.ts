// Every JSON answer of the bridge (its own routes, the git proxy, the editor APIs): compact
// (llama.vim rejects a space after a colon) and with its length. No charset parameter:
// JSON is UTF-8 by definition (RFC 8259 defines none for application/json).
import type { ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
