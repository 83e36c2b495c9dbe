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

export async function startServe(args: string[]): Promise<RunningServe> {
  const server = await startServerProcess('serve', ['bin/homecoder.mjs', 'serve', '--port', '0', ...args]);
  return { ...server, url: server.url.replace(/\/$/, '') };
}
