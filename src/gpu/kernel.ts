// How every engine kernel is compiled and dispatched.
//
// A kernel is WGSL whose storage buffers are bindings 0..n-1 of group 0 in the order
// given to `dispatch`, and whose parameters (if any) are a uniform struct at binding n.
// Pipelines are compiled once per device and WGSL text. Dispatches are recorded into a
// caller-owned compute pass so a whole training step can be one command buffer.

import { KernelSelection } from './kernel-versions.ts';

export type Workgroups = [number, number?, number?];

/** A storage binding: a whole buffer, or a byte range of one (offsets 256-aligned). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

const UNIFORM_ALIGN = 256;

export class KernelRunner {
  readonly device: GPUDevice;
  private pipelines = new Map<string, GPUComputePipeline>();
  private uniforms: GPUBuffer[] = [];
  /** Which version of each hot kernel runs (tuned picks or a forced family). */
  readonly kernels: KernelSelection;
  /** Dispatches recorded so far (the bench reports them per micro-batch). */
  dispatches = 0;

  /** `kernels`: share another runner's selection (the decoder uses its engine's). */
  constructor(device: GPUDevice, kernels?: KernelSelection) {
    this.device = device;
    this.kernels = kernels ?? KernelSelection.forDevice(device);
  }

  pipeline(code: string, label = 'kernel'): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code, label });
      p = this.device.createComputePipeline({ label, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /**
   * Records one dispatch. `params` are the uniform bytes (u32/f32 words) or omitted.
   * Uniform buffers live until `releaseUniforms()` (call after the submit that used them).
   */
  dispatch(
    pass: GPUComputePassEncoder,
    pipeline: GPUComputePipeline,
    storage: Binding[],
    params: ArrayBuffer | ArrayBufferView | undefined,
    workgroups: Workgroups,
  ): void {
    const entries: GPUBindGroupEntry[] = storage.map((b, i) => ({
      binding: i,
      resource: 'buffer' in b ? b : { buffer: b },
    }));
    if (params) {
      const bytes = ArrayBuffer.isView(params)
        ? new Uint8Array(params.buffer, params.byteOffset, params.byteLength)
        : new Uint8Array(params);
      const size = Math.ceil(Math.max(bytes.byteLength, 16) / 16) * 16;
      const u = this.device.createBuffer({ size: Math.max(size, UNIFORM_ALIGN), usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
      new Uint8Array(u.getMappedRange()).set(bytes);
      u.unmap();
      this.uniforms.push(u);
      entries.push({ binding: storage.length, resource: { buffer: u } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = workgroups;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`dispatch ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${max}; split the grid`);
    }
    if (x > 0 && y > 0 && z > 0) {
      pass.dispatchWorkgroups(x, y, z);
      this.dispatches++;
    }
  }

  /** Frees the uniform buffers of dispatches already submitted. */
  releaseUniforms(): void {
    for (const u of this.uniforms) u.destroy();
    this.uniforms = [];
  }

  /** Convenience for tests and one-off work: record with `record`, submit, wait, free uniforms. */
  async run(record: (pass: GPUComputePassEncoder) => void): Promise<void> {
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    record(pass);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    this.releaseUniforms();
  }
}

/** Packs mixed u32/f32 uniform words: `params(u32(n), f32(eps))`. */
export function params(...words: Array<{ u32: number } | { f32: number } | { i32: number }>): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((words.length * 4) / 16) * 16));
  const dv = new DataView(buf);
  words.forEach((w, i) => {
    if ('u32' in w) dv.setUint32(i * 4, w.u32, true);
    else if ('i32' in w) dv.setInt32(i * 4, w.i32, true);
    else dv.setFloat32(i * 4, w.f32, true);
  });
  return buf;
}
export const u32 = (v: number) => ({ u32: v });
export const f32 = (v: number) => ({ f32: v });
export const i32 = (v: number) => ({ i32: v });

/**
 * WGSL accessor for a 16-bit weight binding (two values per u32 word, element i in the
 * low half when i is even): `fn <name>_at(i: u32) -> f32`. bf16 is unpacked by shifting
 * into the high half of an f32; f16 with unpack2x16float (no shader-f16 needed).
 */
export function wgsl16bitReader(name: string, dtype: 'bf16' | 'f16'): string {
  const body =
    dtype === 'bf16'
      ? `return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));`
      : `let v = unpack2x16float(word); return select(v.x, v.y, (i & 1u) == 1u);`;
  return `fn ${name}_at(i: u32) -> f32 { let word = ${name}[i >> 1u]; ${body} }`;
}

/**
 * Workgroups for `n` invocations of `size` threads each, spread over x and y so no
 * dimension passes 65535. Kernels recover the flat index with `flatIndex`.
 */
export function grid1d(n: number, size: number): [number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= 65535) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** WGSL: the flat invocation index of a `grid1d` dispatch (workgroup size `size`). */
export const flatIndex = (size: number) => `(wg.y * nwg.x + wg.x) * ${size}u + lid.x`;
export const FLAT_BUILTINS = `@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u`;

/** WGSL: unpack a word of two 16-bit weights (low half first) into a vec2f. */
export function wgslUnpack2(dtype: 'bf16' | 'f16'): string {
  return dtype === 'bf16'
    ? `fn unpack2(w: u32) -> vec2f { return vec2f(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }`
    : `fn unpack2(w: u32) -> vec2f { return unpack2x16float(w); }`;
}

/**
 * WGSL: `fn workgroupSum(v: T, lid: u32) -> T` over a workgroup of `size` (a power of two)
 * threads, through a shared array named `red`. Every thread gets the total.
 */
export function wgslWorkgroupSum(type: 'f32' | 'vec2f', size: number): string {
  return /* wgsl */ `
var<workgroup> red: array<${type}, ${size}>;
fn workgroupSum(v: ${type}, lid: u32) -> ${type} {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${size / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}`;
}
