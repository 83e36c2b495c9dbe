// `homecoder` as a user runs it: a real process through bin/homecoder.mjs, started from the
// repository root (as vitest runs).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';

const BIN = 'bin/homecoder.mjs';

/** Runs a command to its end; `json()` parses its standard output. */
export function runCli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26 });
  return { ...r, json: () => JSON.parse(r.stdout) };
}

/** The same without blocking this process's event loop (for servers the test itself runs). */
export function runCliAsync(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A running command with its output piped (to signal it mid-way). */
export function spawnCli(...args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
