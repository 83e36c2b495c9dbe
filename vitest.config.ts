import { defineConfig } from 'vitest/config';

// Three projects: unit (plain Node), gpu (real WebGPU through Dawn on a software
// Vulkan driver), e2e (the bridge + the built app in headless Chromium).
// GPU and browser work is slow on software adapters and the machines have 2 cores,
// so those projects run their files one at a time.
export default defineConfig({
  test: {
    projects: [
      {
        // Several unit files start the CLI or the bridge as a process (2–3 s each on an idle
        // machine): vitest's 5 s default fails them on a loaded one.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', testTimeout: 30_000 },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          globalSetup: ['test/helpers/gpu-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          globalSetup: ['test/helpers/e2e-global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
