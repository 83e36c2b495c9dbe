// Headless Debian Chromium with software WebGPU (SwiftShader), and the real bridge process.
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const browserSkipReason = existsSync(CHROMIUM) ? '' : `${CHROMIUM} is missing (install Debian's chromium: scripts/setup-test-env.sh)`;

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--no-sandbox',
      // This machine's network is closed: keep Chromium from calling home.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // (Playwright gives each launch a fresh temporary profile.)
    ],
  });
}

export interface RunningBridge {
  url: string;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts the bridge as `npm start` does (its own process), on a free port. */
export async function startBridgeProcess(extraArgs: string[] = []): Promise<RunningBridge> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/bridge/main.ts', '--port', '0', '--no-build', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', () => {
      const m = /running at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`bridge exited (${code}):\n${out}`)));
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
