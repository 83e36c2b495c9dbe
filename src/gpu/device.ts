// Gets a GPUDevice with the largest limits the adapter allows and the optional
// features the engine can use. Used by the browser worker (navigator.gpu) and by
// Node (the `webgpu` package); it never touches the DOM.
import { GpuError, deviceLost, fromGPUError, noAdapter, webgpuUnavailable } from './errors.ts';

/** Limits the engine asks for at the adapter's maximum (WebGPU defaults are far lower). */
export const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;
export type WantedLimit = (typeof WANTED_LIMITS)[number];

/** Optional features enabled when the adapter has them; never required. */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU/software adapters (lavapipe, SwiftShader, WARP). */
  software: boolean;
  features: string[];
  limits: Record<WantedLimit, number>;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: GpuInfo;
  /** Resolves with a typed error when the device is lost (never rejects). */
  lost: Promise<GpuError>;
}

export interface RequestDeviceOptions {
  where: 'browser' | 'node';
  powerPreference?: GPUPowerPreference;
  /** Called for errors no error scope captured (validation, OOM, internal). */
  onUncapturedError?: (err: GpuError) => void;
  /** Called once if the device is lost without `device.destroy()`. */
  onLost?: (err: GpuError) => void;
}

export async function requestGpuDevice(gpu: GPU | undefined, opts: RequestDeviceOptions): Promise<GpuContext> {
  if (!gpu) throw webgpuUnavailable(opts.where);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  } catch (cause) {
    throw noAdapter(opts.where, cause);
  }
  if (!adapter) throw noAdapter(opts.where);

  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'homecoder' });
  } catch (cause) {
    throw new GpuError(
      'DEVICE_REQUEST_FAILED',
      `The GPU adapter refused to create a device: ${cause instanceof Error ? cause.message : String(cause)}.`,
      'Close other tabs or programs using the GPU and reload; update the GPU driver if it repeats.',
      { cause },
    );
  }

  device.addEventListener('uncapturederror', (ev) => {
    const err = fromGPUError((ev as GPUUncapturedErrorEvent).error, 'running GPU work');
    if (opts.onUncapturedError) opts.onUncapturedError(err);
    else console.error(err.message);
  });
  const lost = device.lost.then((l) => {
    const err = deviceLost(l.reason, l.message);
    if (l.reason !== 'destroyed') opts.onLost?.(err);
    return err;
  });

  return { device, adapter, info: describeAdapter(adapter, device), lost };
}

export function describeAdapter(adapter: GPUAdapter, device?: GPUDevice): GpuInfo {
  const i = adapter.info;
  const limitsSource = device?.limits ?? adapter.limits;
  const limits = {} as Record<WantedLimit, number>;
  for (const name of WANTED_LIMITS) limits[name] = limitsSource[name];
  const features = [...(device?.features ?? adapter.features)].map(String).sort();
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase();
  const software =
    (i as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /swiftshader|llvmpipe|lavapipe|warp|software|cpu/.test(text);
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    software,
    features,
    limits,
  };
}

/**
 * Runs `work` inside out-of-memory and validation error scopes and turns a captured
 * error into a typed one, so a failed allocation is reported instead of corrupting results.
 */
export async function withErrorScopes<T>(device: GPUDevice, what: string, work: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  // The scopes are popped whatever `work` did; a GPU error explains a failure better than
  // the JavaScript error it caused, so it wins.
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await work() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  const err = oom ?? validation;
  if (err) throw fromGPUError(err, what);
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
