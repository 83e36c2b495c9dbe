// `homecoder serve` as its own process on a free port, on a tiny generated model folder.
import { startServerProcess, type RunningServer } from './process.ts';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel, type TinyModelOptions } from '../../src/model/fixtures/tiny-model.ts';

export function writeTinyModel(opts: Partial<TinyModelOptions> = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'hc-serve-')), 'model');
  mkdirSync(dir);
  for (const [n, b] of makeTinyModel(opts).files) writeFileSync(join(dir, n), b);
  return dir;
}

export type RunningServe = RunningServer;

/** `url` is the bare origin (editors' base URL); the printed link is `server.url` of startServerProcess. */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<RunningServe> {
  const server = await startServerProcess('serve', ['bin/homecoder.mjs', 'serve', '--port', '0', ...args], 60_000, env);
  return { ...server, url: server.origin };
}
