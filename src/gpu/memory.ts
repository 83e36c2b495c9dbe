// Tracks what the engine allocates on the GPU, by category, so a run can report
// (and the planner can compare) weights, LoRA + optimizer state, activations and scratch.

export type MemoryCategory = 'weights' | 'lora' | 'optimizer' | 'activations' | 'scratch';

/** Bytes by category and their total: what the engine holds (GpuMemory.report) or will hold (planner.ts). */
export type MemoryReport = Record<MemoryCategory, number> & { total: number };

export function memoryReport(bytes: Record<MemoryCategory, number>): MemoryReport {
  const { weights, lora, optimizer, activations, scratch } = bytes;
  return { weights, lora, optimizer, activations, scratch, total: weights + lora + optimizer + activations + scratch };
}

export class GpuMemory {
  private bytes: Record<MemoryCategory, number> = { weights: 0, lora: 0, optimizer: 0, activations: 0, scratch: 0 };
  private owned = new Map<GPUBuffer, MemoryCategory>();

  constructor(readonly device: GPUDevice) {}

  /** A zero-initialised f32/u32 storage buffer counted under `category`. */
  buffer(category: MemoryCategory, byteLength: number, label?: string): GPUBuffer {
    const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
    const b = this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.track(b, category);
    return b;
  }

  /** Counts a buffer made elsewhere (e.g. weight chunks). */
  track(buffer: GPUBuffer, category: MemoryCategory): void {
    this.owned.set(buffer, category);
    this.bytes[category] += buffer.size;
  }

  release(buffer: GPUBuffer): void {
    const cat = this.owned.get(buffer);
    if (cat === undefined) return;
    this.bytes[cat] -= buffer.size;
    this.owned.delete(buffer);
    buffer.destroy();
  }

  report(): MemoryReport {
    return memoryReport(this.bytes);
  }

  destroyAll(): void {
    for (const buf of this.owned.keys()) buf.destroy();
    this.owned.clear();
    for (const k of Object.keys(this.bytes) as MemoryCategory[]) this.bytes[k] = 0;
  }
}
