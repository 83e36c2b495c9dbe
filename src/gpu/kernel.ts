// How every engine kernel is compiled and dispatched.
//
// A kernel is WGSL whose storage buffers are bindings 0..n-1 of group 0 in the order
// given to `dispatch`, and whose parameters (if any) are a uniform struct at binding n.
// Pipelines are compiled once per device and WGSL text, with explicit layouts so the
// parameters of every dispatch sit in one uniform buffer at dynamic offsets and bind
// groups are built once per pipeline and buffers, not per dispatch. Dispatches are recorded
// into a caller-owned compute pass so a whole training step can be one command buffer.

import { KernelSelection } from './kernel-versions.ts';

export type Workgroups = [number, number?, number?];

/** A storage binding: a whole buffer, or a byte range of one (offsets 256-aligned). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** One uniform slot per dispatch; 256 is every adapter's minUniformBufferOffsetAlignment or more. */
const UNIFORM_SLOT = 256;
/** Bind groups kept for reuse; past this many the cache starts over (buffers come and go in tests). */
const MAX_BIND_GROUPS = 8192;

/**
 * The bind group layout a kernel's WGSL declares: storage bindings read-only or read-write
 * as written, the parameters a uniform with a dynamic offset into the runner's arena.
 */
export function bindingLayout(code: string): GPUBindGroupLayoutEntry[] {
  const entries: GPUBindGroupLayoutEntry[] = [];
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<(storage|uniform)\s*(?:,\s*(read_write|read))?\s*>/g)) {
    const binding = Number(m[1]);
    const buffer: GPUBufferBindingLayout =
      m[2] === 'uniform' ? { type: 'uniform', hasDynamicOffset: true } : { type: m[3] === 'read_write' ? 'storage' : 'read-only-storage' };
    entries.push({ binding, visibility: GPUShaderStage.COMPUTE, buffer });
  }
  return entries;
}

export class KernelRunner {
  readonly device: GPUDevice;
  private pipelines = new Map<string, GPUComputePipeline>();
  private layouts = new WeakMap<GPUComputePipeline, { layout: GPUBindGroupLayout; id: number }>();
  /** Parameters of every dispatch live in one arena at 256-byte slots, reused after each submit. */
  private arena?: GPUBuffer;
  private arenaId = 0;
  private slotsUsed = 0;
  private retired: GPUBuffer[] = [];
  private slot = new Uint8Array(UNIFORM_SLOT);
  /** Bind groups by pipeline + buffers: a training step's dispatches reuse the previous step's. */
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  /** Which version of each hot kernel runs (tuned picks or a forced family). */
  readonly kernels: KernelSelection;
  /** Dispatches recorded so far (the bench reports them per micro-batch). */
  dispatches = 0;
  /** Bind groups created so far (the rest were reused). */
  bindGroupsCreated = 0;

  /** `kernels`: share another runner's selection (the decoder uses its engine's). */
  constructor(device: GPUDevice, kernels?: KernelSelection) {
    this.device = device;
    this.kernels = kernels ?? KernelSelection.forDevice(device);
  }

  pipeline(code: string, label = 'kernel'): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code, label });
      const layout = this.device.createBindGroupLayout({ label, entries: bindingLayout(code) });
      p = this.device.createComputePipeline({
        label,
        layout: this.device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      });
      this.pipelines.set(code, p);
      this.layouts.set(p, { layout, id: this.nextId++ });
    }
    return p;
  }

  private id(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextId++));
    return id;
  }

  /** A slot in the uniform arena holding `bytes` (written now: the queue orders it before the next submit). */
  private uniformSlot(bytes: Uint8Array): number {
    if (bytes.byteLength > UNIFORM_SLOT)
      throw new Error(`kernel parameters of ${bytes.byteLength} bytes exceed a ${UNIFORM_SLOT}-byte slot`);
    const slots = this.arena ? this.arena.size / UNIFORM_SLOT : 0;
    if (this.slotsUsed >= slots) {
      // Full: a twice-larger arena; the old one lives until the work recorded with it is submitted.
      if (this.arena) this.retired.push(this.arena);
      this.arena = this.device.createBuffer({
        label: 'kernel parameters',
        size: Math.max(1024, slots * 2) * UNIFORM_SLOT,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.arenaId = this.nextId++;
      this.bindGroups.clear(); // they name the old arena
      this.slotsUsed = 0;
    }
    const offset = this.slotsUsed++ * UNIFORM_SLOT;
    // The whole slot, zeros after the parameters: a struct longer than the words given reads 0, as before.
    this.slot.fill(0);
    this.slot.set(bytes);
    this.device.queue.writeBuffer(this.arena!, offset, this.slot);
    return offset;
  }

  /**
   * Records one dispatch. `params` are the uniform bytes (u32/f32 words) or omitted; they go
   * to a slot of the arena, which is reused after `releaseUniforms()` (call it after the
   * submit that used them). Bind groups are built once per pipeline and set of buffers.
   */
  dispatch(
    pass: GPUComputePassEncoder,
    pipeline: GPUComputePipeline,
    storage: Binding[],
    params: ArrayBuffer | ArrayBufferView | undefined,
    workgroups: Workgroups,
  ): void {
    const [x, y = 1, z = 1] = workgroups;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`dispatch ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${max}; split the grid`);
    }
    const compiled = this.layouts.get(pipeline);
    if (!compiled) throw new Error(`pipeline ${pipeline.label} was not made by this runner`);
    const offsets: number[] = [];
    if (params) {
      const bytes = ArrayBuffer.isView(params)
        ? new Uint8Array(params.buffer, params.byteOffset, params.byteLength)
        : new Uint8Array(params);
      offsets.push(this.uniformSlot(bytes));
    }
    let key = `${compiled.id}`;
    for (const b of storage) key += 'buffer' in b ? `|${this.id(b.buffer)}@${b.offset ?? 0}+${b.size ?? ''}` : `|${this.id(b)}`;
    if (params) key += `|u${this.arenaId}`;
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      const entries: GPUBindGroupEntry[] = storage.map((b, i) => ({ binding: i, resource: 'buffer' in b ? b : { buffer: b } }));
      if (params) entries.push({ binding: storage.length, resource: { buffer: this.arena!, offset: 0, size: UNIFORM_SLOT } });
      bindGroup = this.device.createBindGroup({ layout: compiled.layout, entries });
      this.bindGroupsCreated++;
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      this.bindGroups.set(key, bindGroup);
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup, offsets);
    if (x > 0 && y > 0 && z > 0) {
      pass.dispatchWorkgroups(x, y, z);
      this.dispatches++;
    }
  }

  /** Lets the arena's slots be reused: call after submitting the work that read them. */
  releaseUniforms(): void {
    this.slotsUsed = 0;
    for (const u of this.retired) u.destroy();
    this.retired = [];
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
