// The contract between the UI thread and the engine worker (which owns the GPUDevice).
import type { GpuInfo } from '../gpu/device.ts';
import type { SelfTestResult } from '../gpu/selftest.ts';
import type { ProgressListener } from '../progress.ts';

export type GpuStatus =
  | { ok: true; info: GpuInfo }
  | { ok: false; code: string; message: string; hint: string };

export interface EngineApi {
  /** Requests the adapter and device once; later calls return the same answer. */
  gpuStatus(): Promise<GpuStatus>;
  /** Runs the GPU check (a real compute shader compared with a CPU reference). */
  selfTest(jobId: string, onProgress: ProgressListener, size?: number): Promise<SelfTestResult>;
  cancel(jobId: string): Promise<boolean>;
}
