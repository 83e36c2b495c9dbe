// Requests written byte for byte on a TCP socket to a server under test (fetch would
// normalise paths and headers that the tests must send as they are).
import { connect } from 'node:net';

/** Sends `request` to the server at `url` (its host is not used: loopback) and resolves to the whole raw answer. */
export function rawRequest(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => s.write(request));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}
