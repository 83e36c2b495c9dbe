// Typed errors the GPU layer can raise. Each says what happened and what to do;
// `code` is stable so callers (UI, CLI, tests) can branch on it.
import { HomecoderError, registerError } from '../errors.ts';

export type GpuErrorCode =
  | 'WEBGPU_UNAVAILABLE'
  | 'NO_ADAPTER'
  | 'DEVICE_REQUEST_FAILED'
  | 'DEVICE_LOST'
  | 'OUT_OF_MEMORY'
  | 'VALIDATION'
  | 'FEATURE_MISSING'
  | 'INTERNAL';

export class GpuError extends HomecoderError<GpuErrorCode> {
  /** The message ends with the hint (the CLI and logs print the message alone). */
  constructor(code: GpuErrorCode, message: string, hint: string, options?: { cause?: unknown }) {
    super(code, hint ? `${message} ${hint}` : message, { hint, cause: options?.cause });
    this.name = 'GpuError';
  }
}
registerError('GpuError', GpuError);

const browserHint =
  'Use Chrome or Edge 113 or newer. On Linux, enable chrome://flags/#enable-unsafe-webgpu and ' +
  'chrome://flags/#enable-vulkan, or start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan.';

export function webgpuUnavailable(where: 'browser' | 'node'): GpuError {
  return new GpuError(
    'WEBGPU_UNAVAILABLE',
    'WebGPU is not available here.',
    where === 'browser' ? browserHint : 'Install the `webgpu` npm package (npm ci) and a Vulkan driver (on Debian: mesa-vulkan-drivers).',
  );
}

export function noAdapter(where: 'browser' | 'node', cause?: unknown): GpuError {
  return new GpuError(
    'NO_ADAPTER',
    'WebGPU is present but no GPU adapter could be obtained.',
    where === 'browser'
      ? `${browserHint} Check chrome://gpu: WebGPU must not be listed as disabled or blocklisted.`
      : 'Check that a Vulkan driver is installed (vulkaninfo --summary), or set VK_ICD_FILENAMES to one.',
    { cause },
  );
}

export function outOfMemory(what: string, cause?: unknown): GpuError {
  return new GpuError(
    'OUT_OF_MEMORY',
    `The GPU ran out of memory while ${what}.`,
    'Try a shorter sequence length, low memory mode, or a smaller model.',
    { cause },
  );
}

export function deviceLost(reason: string, message: string): GpuError {
  return new GpuError(
    'DEVICE_LOST',
    `The GPU device was lost (${reason}${message ? `: ${message}` : ''}).`,
    'This happens when the GPU runs out of memory, the driver resets, or the tab is in the background too long. ' +
      'Reload the page to start again; saved work is kept. If it repeats, use a shorter sequence length or low memory mode.',
  );
}

/** An optional WebGPU feature a caller asked for is not on this device. */
export function featureMissing(feature: string, what: string, hint: string): GpuError {
  return new GpuError('FEATURE_MISSING', `This GPU adapter has no '${feature}', which ${what} needs.`, hint);
}

/** Turns a GPUError captured by an error scope or `uncapturederror` into a typed error. */
export function fromGPUError(err: GPUError, what: string): GpuError {
  if (isKind(err, 'GPUOutOfMemoryError')) return outOfMemory(what, err);
  if (isKind(err, 'GPUValidationError')) {
    return new GpuError(
      'VALIDATION',
      `WebGPU rejected a command while ${what}: ${err.message}`,
      'This is a bug in Homecoder; please report it with this message.',
      { cause: err },
    );
  }
  return new GpuError(
    'INTERNAL',
    `The GPU driver failed while ${what}: ${err.message}`,
    'Reload and try again; if it repeats, try low memory mode.',
    { cause: err },
  );
}

// The error classes are globals in browsers but may be missing from a Node global scope.
function isKind(err: GPUError, name: 'GPUOutOfMemoryError' | 'GPUValidationError'): boolean {
  const ctor = (globalThis as Record<string, unknown>)[name];
  if (typeof ctor === 'function' && err instanceof ctor) return true;
  return err.constructor?.name === name;
}
