// The peer kernel: onnxruntime-web's MatMul (its WebGPU execution provider) on the same
// adapter, in this process, at the same shapes (../shared/notes/tools-facts.md).
// Node has no `navigator`: ORT finds the GPU through a shim. ORT hands `queue.writeBuffer`
// views of its WebAssembly memory, a SharedArrayBuffer, which Dawn's Node binding refuses:
// such data is copied first (a patch of GPUQueue.writeBuffer in this process only).
import { matMulModel } from './onnx-matmul.ts';

type Ort = typeof import('onnxruntime-web');
let ort: Ort | undefined;

async function loadOrt(gpu: GPU): Promise<Ort> {
  if (ort) return ort;
  (globalThis as { navigator?: unknown }).navigator = { gpu };
  type Write = (buffer: GPUBuffer, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number) => void;
  const proto = (globalThis as unknown as { GPUQueue: { prototype: { writeBuffer: Write } } }).GPUQueue.prototype;
  const write = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, buffer, offset, data, dataOffset, size) {
    if (!(data.buffer instanceof SharedArrayBuffer)) return write.call(this, buffer, offset, data, dataOffset, size);
    const bpe = (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const start = data.byteOffset + (dataOffset ?? 0) * bpe;
    const length = size !== undefined ? size * bpe : data.byteLength - (dataOffset ?? 0) * bpe;
    return write.call(this, buffer, offset, new Uint8Array(data.buffer, start, length).slice());
  };
  // In 1.30 this entry is ORT's native WebGPU execution provider.
  ort = (await import('onnxruntime-web/webgpu')) as unknown as Ort;
  return ort;
}

/**
 * Median ms of ORT's MatMul x[M,K]·W[K,N] (f32 weights) over `reps` runs after a warm-up,
 * each run from x on the CPU to y back on the CPU (wall clock).
 */
export async function ortMatMulMs(gpu: GPU, M: number, K: number, N: number, reps: number): Promise<number> {
  const o = await loadOrt(gpu);
  const W = new Float32Array(K * N);
  for (let i = 0; i < W.length; i++) W[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const session = await o.InferenceSession.create(matMulModel(M, K, N, W), { executionProviders: ['webgpu'] });
  try {
    const x = new o.Tensor(
      'float32',
      Float32Array.from({ length: M * K }, (_, i) => Math.sin(i)),
      [M, K],
    );
    await session.run({ x }); // warm-up: shader compilation, weight upload
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const out = await session.run({ x });
      void (out.y.data as Float32Array)[0];
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  } finally {
    await session.release();
  }
}

/** The loaded onnxruntime-web's version (after a first run). */
export function ortVersion(): string {
  return ort?.env.versions.web ?? 'onnxruntime-web';
}
