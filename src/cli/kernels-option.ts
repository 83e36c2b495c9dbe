// `--kernels NAME` (loss, train, train-steps, serve, bench): force one kernel family for
// every operation that has a version of it, for testing and comparison. Without it, the
// choices `homecoder tune` stored for this adapter are used (else the register versions).
import { KERNEL_FAMILIES, type KernelFamily } from '../gpu/kernel-versions.ts';
import type { KernelRunner } from '../gpu/kernel.ts';
import type { GpuInfo } from '../gpu/device.ts';
import { LINEAR_DX_VERSIONS, LINEAR_VERSIONS } from '../gpu/kernels/linear.ts';
import { GEMV_VERSIONS } from '../gpu/kernels/gemv.ts';
import { ATTENTION_VERSIONS } from '../gpu/kernels/attention-versions.ts';
import { ATTENTION_CACHED_VERSIONS } from '../gpu/kernels/attention-cached.ts';
import { applyStoredPicks } from '../gpu/tune-store.ts';
import { fileTuneStore } from './tune-cache.ts';
import { UsageError } from '../errors.ts';

export const KERNELS_OPTION = { kernels: { type: 'string' } } as const;
export const KERNELS_HELP = `  --kernels NAME  force one kernel family everywhere: ${KERNEL_FAMILIES.join(', ')}
                  (default: the versions "homecoder tune" chose on this GPU)`;

/** Every version of every tuned operation (for listing). */
export const ALL_VERSIONS = [
  ...LINEAR_VERSIONS,
  ...LINEAR_DX_VERSIONS,
  ...GEMV_VERSIONS,
  ...ATTENTION_VERSIONS,
  ...ATTENTION_CACHED_VERSIONS,
];

/** Checks a --kernels value before anything is loaded. */
export function parseKernelsOption(value: string | undefined): KernelFamily | undefined {
  if (value === undefined || value === 'auto') return undefined;
  if (!(KERNEL_FAMILIES as readonly string[]).includes(value))
    throw new UsageError(`--kernels must be one of ${KERNEL_FAMILIES.join(', ')} (or auto), not "${value}"`);
  return value as KernelFamily;
}

/** Forces the family on the runner (refused when this adapter cannot run it), or loads the stored picks. */
export async function applyKernels(runner: KernelRunner, info: GpuInfo, family: KernelFamily | undefined): Promise<void> {
  if (!family) {
    await applyStoredPicks(fileTuneStore(), info, runner.kernels);
    return;
  }
  const versions = ALL_VERSIONS.filter((v) => v.family === family);
  const missing = versions.filter((v) => !runner.kernels.available(v)).flatMap((v) => v.features);
  if (missing.length)
    throw new UsageError(
      `--kernels ${family} needs ${[...new Set(missing)].join(', ')}, which this GPU adapter lacks; "homecoder kernels" lists the families it can run`,
    );
  runner.kernels.forced = family;
}
