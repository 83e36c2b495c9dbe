// The device helper on a real (software) adapter, and its typed errors.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { requestGpuDevice, withErrorScopes, WANTED_LIMITS } from '../../src/gpu/device.ts';
import { GpuError } from '../../src/gpu/errors.ts';
import { runSelfTest } from '../../src/gpu/selftest.ts';
import { isAbort, type Progress } from '../../src/progress.ts';
import { gpuSkipReason, skipNote, testDevice } from '../helpers/gpu.ts';

describe.skipIf(!!gpuSkipReason)(`WebGPU device in Node (Dawn)${skipNote}`, () => {
  it('gets the adapter maximum for the limits the engine needs', async () => {
    const { device, adapter, info } = await testDevice();
    for (const name of WANTED_LIMITS) expect(device.limits[name]).toBe(adapter.limits[name]);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 1024 * 1024 - 1);
    expect(info.software).toBe(true); // this machine has no GPU
    for (const f of ['shader-f16', 'subgroups']) expect(device.features.has(f)).toBe(adapter.features.has(f));
  });

  it('runs a real compute shader and matches the CPU reference exactly', async () => {
    const { device } = await testDevice();
    const seen: Progress[] = [];
    const r = await runSelfTest(device, { n: 96, blocks: 6, onProgress: (p) => seen.push(p) });
    expect(r.maxAbsError).toBe(0);
    expect(r.ok).toBe(true);
    expect(seen.map((p) => p.done)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('stops a cancelled GPU job between blocks', async () => {
    const { device } = await testDevice();
    const ctl = new AbortController();
    let blocks = 0;
    const err = await runSelfTest(device, {
      n: 64,
      blocks: 8,
      signal: ctl.signal,
      onProgress: () => {
        if (++blocks === 2) ctl.abort();
      },
    }).catch((e: unknown) => e);
    expect(isAbort(err)).toBe(true);
    expect(blocks).toBe(2);
  });

  it('turns a rejected command into a typed VALIDATION error', async () => {
    const { device } = await testDevice();
    const err = await withErrorScopes(device, 'allocating a test buffer', () => {
      device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect((err as GpuError).code).toBe('VALIDATION');
    expect((err as GpuError).message).toContain('allocating a test buffer');
  });

  it('homecoder gpu-info --json prints the adapter and limits', () => {
    const r = runCli('gpu-info', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as { vendor: string; description: string; limits: Record<string, number>; features: string[] };
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(info.limits.maxBufferSize).toBeGreaterThan(0);
    expect(typeof info.vendor).toBe('string');
    console.log(`[gpu tests] gpu-info: ${info.vendor} / ${info.description}`);
  });
});

describe('device helper errors (no GPU needed)', () => {
  it('says WebGPU is missing, with what to do', async () => {
    const err = (await requestGpuDevice(undefined, { where: 'browser' }).catch((e: unknown) => e)) as GpuError;
    expect(err.code).toBe('WEBGPU_UNAVAILABLE');
    expect(err.message).toContain('--enable-unsafe-webgpu --enable-features=Vulkan');
  });
  it('says no adapter could be had', async () => {
    // A test double for navigator.gpu whose adapter request yields nothing, as on a blocklisted GPU.
    const gpu = { requestAdapter: async () => null } as unknown as GPU;
    const err = (await requestGpuDevice(gpu, { where: 'node' }).catch((e: unknown) => e)) as GpuError;
    expect(err.code).toBe('NO_ADAPTER');
    expect(err.hint).toContain('Vulkan');
  });
});
