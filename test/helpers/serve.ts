// `homecoder serve` as its own process on a free port, on a tiny generated model folder.
import { startServerProcess, type RunningServer } from './process.ts';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeTinyModel, type TinyModelOptions } from '../../src/model/fixtures/tiny-model.ts';
import { parseConfig } from '../../src/model/config.ts';
import { writePeftAdapter } from '../../src/model/peft.ts';
import { randomAdapter } from './tiny.ts';

export function writeTinyModel(opts: Partial<TinyModelOptions> = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'hc-serve-')), 'model');
  mkdirSync(dir);
  for (const [n, b] of makeTinyModel(opts).files) writeFileSync(join(dir, n), b);
  return dir;
}

/**
 * A PEFT adapter with random weights big enough to change the answers (r 2, α 4 on q/v/down,
 * seed 5, B scale 1.5) for the model in `modelDir`, written beside it as <name>/; returns its folder.
 */
export function writeRandomAdapter(modelDir: string, name: string): string {
  const config = parseConfig(JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')));
  const dir = join(dirname(modelDir), name);
  mkdirSync(dir);
  const targets = ['q_proj', 'v_proj', 'down_proj'] as const;
  for (const [n, b] of writePeftAdapter({
    lora: { r: 2, alpha: 4, dropout: 0, targets: [...targets] },
    baseModel: 'tiny',
    layers: randomAdapter(config, 2, [...targets], 5, 1.5),
  }))
    writeFileSync(join(dir, n), b);
  return dir;
}

export type RunningServe = RunningServer;

/** `url` is the bare origin (editors' base URL); the printed link is `server.url` of startServerProcess. */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<RunningServe> {
  const server = await startServerProcess('serve', ['bin/homecoder.mjs', 'serve', '--port', '0', ...args], 60_000, env);
  return { ...server, url: server.origin };
}
