// WebGPU in Node through Dawn (the `webgpu` npm package). Installs the WebGPU
// globals (GPUBufferUsage, ...) once, so engine code runs unchanged in Node.
import { requestGpuDevice, type GpuContext, type RequestDeviceOptions } from '../gpu/device.ts';

let gpu: GPU | undefined;

export async function nodeGpu(): Promise<GPU> {
  if (gpu) return gpu;
  const dawn = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  Object.assign(globalThis, dawn.globals);
  gpu = dawn.create([]);
  return gpu;
}

export async function nodeGpuDevice(opts: Omit<RequestDeviceOptions, 'where'> = {}): Promise<GpuContext> {
  return requestGpuDevice(await nodeGpu(), { ...opts, where: 'node' });
}
