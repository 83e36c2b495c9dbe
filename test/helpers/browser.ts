// Headless Debian Chromium with software WebGPU (SwiftShader), and the real bridge process.
import { existsSync } from 'node:fs';
import { startServerProcess, type RunningServer } from './process.ts';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const browserSkipReason = existsSync(CHROMIUM)
  ? ''
  : `${CHROMIUM} is missing (install Debian's chromium: scripts/setup-test-env.sh)`;

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

export type RunningBridge = RunningServer;

/**
 * Starts the bridge as `npm start` does (its own process), on a free port. Its `url` is the
 * printed link with the secret: pages open it (or `new URL('#/page', url)`) as a user does.
 */
export function startBridgeProcess(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<RunningBridge> {
  return startServerProcess('bridge', ['--import', 'tsx', 'src/bridge/main.ts', '--port', '0', '--no-build', ...extraArgs], 30_000, env);
}
