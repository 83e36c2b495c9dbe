// Shared by GPU tests: one device per test file, on the driver chosen in global setup.
import { chooseVulkanDriver } from './vulkan.ts';
import type { GpuContext } from '../../src/gpu/device.ts';

const choice = chooseVulkanDriver();
/** Non-empty when GPU tests cannot run here; tests are skipped with this reason. */
export const gpuSkipReason: string = choice.ok ? '' : (choice.reason ?? 'no WebGPU');

let ctx: Promise<GpuContext> | undefined;

export function testDevice(): Promise<GpuContext> {
  ctx ??= (async () => {
    const { nodeGpuDevice } = await import('../../src/cli/dawn.ts');
    const c = await nodeGpuDevice({
      onUncapturedError: (e) => {
        throw e;
      },
    });
    console.log(
      `[gpu tests] adapter: ${c.info.vendor} ${c.info.architecture} — ${c.info.description} ` +
        `(driver ${choice.driver}; shader-f16 ${c.info.features.includes('shader-f16')}, subgroups ${c.info.features.includes('subgroups')})`,
    );
    return c;
  })();
  return ctx;
}

/** Test-name suffix that says why a test is skipped, so the report shows it. */
export const skipNote = gpuSkipReason ? ` [skipped: ${gpuSkipReason}]` : '';

/** Uploads float64 values as an f32 storage buffer. */
export async function f32Buffer(values: ArrayLike<number>): Promise<GPUBuffer> {
  const { device } = await testDevice();
  const { uploadBuffer } = await import('../../src/gpu/buffers.ts');
  return uploadBuffer(device, Float32Array.from(values));
}

/** Reads n floats back as float64. */
export async function readF64(buffer: GPUBuffer, n: number): Promise<Float64Array> {
  const { device } = await testDevice();
  const { readFloat32 } = await import('../../src/gpu/buffers.ts');
  return Float64Array.from(await readFloat32(device, buffer, n));
}

/** A KernelRunner on the test device. */
export async function testRunner(): Promise<import('../../src/gpu/kernel.ts').KernelRunner> {
  const { device } = await testDevice();
  const { KernelRunner } = await import('../../src/gpu/kernel.ts');
  return new KernelRunner(device);
}

/** A bf16 weight matrix [rows, cols] uploaded with a chunk limit (small limits force chunking). */
export async function bf16Weight(values: Float64Array, rows: number, cols: number, maxChunkBytes: number, name = 'w') {
  const { device } = await testDevice();
  const { uploadWeight } = await import('../../src/gpu/weights.ts');
  const { bf16Round } = await import('./numeric.ts');
  const { bits, values: rounded } = bf16Round(values);
  const weight = uploadWeight(device, { name, shape: [rows, cols], dtype: 'bf16', data: bits }, maxChunkBytes);
  return { weight, rounded };
}
