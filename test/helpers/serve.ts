// `homecoder serve` as its own process on a free port, on a tiny generated model folder.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel, type TinyModelOptions } from '../../src/model/tiny-model.ts';

export function writeTinyModel(opts: Partial<TinyModelOptions> = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'hc-serve-')), 'model');
  mkdirSync(dir);
  for (const [n, b] of makeTinyModel(opts).files) writeFileSync(join(dir, n), b);
  return dir;
}

export interface RunningServe {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startServe(args: string[]): Promise<RunningServe> {
  const child = spawn(process.execPath, ['bin/homecoder.mjs', 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      const m = /running at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited (${code}):\n${out}`)));
  });
  return {
    url,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
