// Inference with a KV cache: a prompt is prefilled in chunks (matrix products over the
// chunk's tokens), then each new token is one decode step whose projections are
// matrix–vector products that read every weight once. Only the last position's logits
// are computed and read back. A new prompt that shares a prefix with the tokens already
// in the cache (the user typed a character) reuses their keys and values.
// The adapter (one LoRA, possibly a weighted mix made on the host) can be swapped without
// touching the base weights; swapping drops the cache, whose keys depended on it. A single
// adapter (GpuLora.single) is merged into a copy of the weights it targets before the next
// run (merged-weights.ts), so a decoded token costs the base model's dispatches; a mix, or a
// single adapter whose copy does not fit the memory budget, runs as LoRA products per projection.
// `prefillSelect`/`stepSelect` finish on the GPU (src/gpu/sampler.ts): only the selected
// candidates are read back, not the logits; `prefill`/`step` read the whole logits.
import type { GpuModel, GpuLinear } from './model.ts';
import type { GpuLora } from './lora.ts';
import { KernelRunner } from './kernel.ts';
import type { KernelSelection } from './kernel-versions.ts';
import type { GpuMemory } from './memory.ts';
import type { LoraTarget } from '../model/types.ts';
import { KvCache, copyRange, type KvDtype } from './kv-cache.ts';
import { type Candidates, GpuSampler, type Selection } from './sampler.ts';
import { featureMissing } from './errors.ts';
import { embeddingForward } from './kernels/embedding.ts';
import { linearForward } from './kernels/linear.ts';
import { gemvForward } from './kernels/gemv.ts';
import { loraForward } from './kernels/lora.ts';
import { rmsnormForward } from './kernels/rmsnorm.ts';
import { createRopeTable, type RopeTable } from './kernels/rope.ts';
import { attentionCached } from './kernels/attention-cached.ts';
import { siluGateForward } from './kernels/elementwise.ts';
import { abortError } from '../progress.ts';
import { MergedWeights } from './merged-weights.ts';
import type { WeightTensor } from './weights.ts';

export interface DecoderOptions {
  /** Positions the KV cache holds (prompt + generated tokens). */
  contextLength: number;
  /** Most prompt tokens prefilled in one submit (bounds scratch memory and dispatch time). */
  chunk?: number;
  /** KV cache storage: 'auto' (default) is f16 where the device has shader-f16, else f32. */
  kvCache?: 'auto' | KvDtype;
  /** Kernel versions to use (tuned picks or a forced family); default: the fallback versions. */
  kernels?: KernelSelection;
  /** Merge a single adapter into a copy of the weights it targets (default true); a mix is never merged. */
  merge?: boolean;
  /**
   * GPU bytes serving may hold in all (GpuMemory's total: weights, cache, adapters, merged
   * copies); a merged copy that would pass it is not made and the adapter serves unmerged.
   * Default: no budget (only an out-of-memory error from the GPU falls back).
   */
  memoryBudget?: number;
  /** Where the decoder says, once, that an adapter serves unmerged for lack of memory (default console.warn). */
  log?: (message: string) => void;
}

/** How the current adapter is served: none, merged into the weights, or as LoRA products. */
export type AdapterMode = 'none' | 'merged' | 'unmerged';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** The cache type 'auto' gives on this device, or the one asked for (f16 needs shader-f16). */
export function kvCacheType(device: GPUDevice, asked: 'auto' | KvDtype = 'auto'): KvDtype {
  const f16 = device.features.has('shader-f16');
  if (asked === 'f16' && !f16)
    throw featureMissing('shader-f16', 'an f16 KV cache', "Use the KV cache in 'auto' or 'f32' mode on this GPU.");
  return asked === 'auto' ? (f16 ? 'f16' : 'f32') : asked;
}

export interface PrefillResult {
  /** Logits of the prompt's last position [vocab]. */
  logits: Float32Array;
  /** Prompt tokens whose keys and values were reused from the previous call. */
  reused: number;
}

export interface PrefillSelectResult {
  /** The candidates selected on the GPU from the prompt's last position. */
  candidates: Candidates;
  reused: number;
}

interface Scratch {
  ids: GPUBuffer;
  x: GPUBuffer;
  xn: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  attn: GPUBuffer;
  xn2: GPUBuffer;
  gate: GPUBuffer;
  up: GPUBuffer;
  act: GPUBuffer;
  last: GPUBuffer;
  lastNormed: GPUBuffer;
  logits: GPUBuffer;
}

export class Decoder {
  readonly runner: KernelRunner;
  readonly contextLength: number;
  readonly chunk: number;
  readonly kvType: KvDtype;
  /** Bytes mapped back from the GPU since this decoder was made (logits or candidates). */
  readBackBytes = 0;
  /** Dispatches the last prefill or step recorded (a step: per decoded token). */
  lastDispatches = 0;
  private cache: KvCache;
  private s: Scratch;
  private rope: RopeTable;
  private sampler: GpuSampler;
  private staging?: GPUBuffer;
  private xa?: GPUBuffer;
  private adapter?: GpuLora;
  private merged: MergedWeights;
  private mode: AdapterMode = 'none';
  /** The adapter's merge waits for the next run (it needs the GPU, and a swap is synchronous). */
  private mergePending = false;
  private mergeOn: boolean;
  /** DecoderOptions.memoryBudget; checked at each merge. */
  memoryBudget?: number;
  private log: (message: string) => void;
  private warned = false;
  /** Milliseconds the last merge took (a hot swap's cost), or undefined before any. */
  lastMergeMs?: number;
  /** Tokens whose keys and values are in the cache, in order. */
  private tokens: number[] = [];
  private busy = false;

  constructor(
    readonly memory: GpuMemory,
    readonly model: GpuModel,
    opts: DecoderOptions,
  ) {
    const c = model.config;
    const device = memory.device;
    this.runner = new KernelRunner(device, opts.kernels);
    this.contextLength = opts.contextLength;
    const C = (this.chunk = Math.max(1, Math.min(opts.chunk ?? 128, opts.contextLength)));
    this.kvType = kvCacheType(device, opts.kvCache);
    this.cache = new KvCache(memory, c, this.contextLength, this.kvType);
    const H = c.hiddenSize;
    const I = c.intermediateSize;
    const qd = c.numHeads * c.headDim;
    const kvd = c.numKvHeads * c.headDim;
    const b = (name: string, floats: number) => memory.buffer('scratch', floats * 4, `decoder.${name}`);
    this.s = {
      ids: b('ids', C),
      x: b('x', C * H),
      xn: b('xn', C * H),
      q: b('q', C * qd),
      k: b('k', C * kvd),
      v: b('v', C * kvd),
      attn: b('attn', C * qd),
      xn2: b('xn2', C * H),
      gate: b('gate', C * I),
      up: b('up', C * I),
      act: b('act', C * I),
      last: b('last', H),
      lastNormed: b('lastNormed', H),
      logits: b('logits', c.vocabSize),
    };
    this.rope = createRopeTable(device, this.contextLength, c.headDim, c.ropeTheta, c.ropeLinearFactor);
    this.sampler = new GpuSampler(memory, c.vocabSize);
    this.merged = new MergedWeights(memory, model);
    this.mergeOn = opts.merge ?? true;
    this.memoryBudget = opts.memoryBudget;
    this.log = opts.log ?? ((m) => console.warn(m));
  }

  /** Serves with this adapter (or the base model alone); the cache is dropped. */
  setAdapter(adapter: GpuLora | undefined): void {
    this.adapter = adapter;
    this.tokens = [];
    this.merged.clear();
    this.mergePending = !!adapter?.single && this.mergeOn;
    this.mode = adapter ? 'unmerged' : 'none';
    if (this.xa) this.memory.release(this.xa);
    this.xa = adapter ? this.memory.buffer('scratch', this.chunk * adapter.config.r * 4, 'decoder.xa') : undefined;
  }

  get currentAdapter(): GpuLora | undefined {
    return this.adapter;
  }

  /** How the adapter serves: after a swap, 'merged' once the next run has merged it. */
  get adapterMode(): AdapterMode {
    return this.mode;
  }

  /** The weight layer `l`'s `target` is decoded with while merged (undefined: the base's). */
  mergedWeight(l: number, target: LoraTarget): WeightTensor | undefined {
    return this.mode === 'merged' ? this.merged.weight(l, target) : undefined;
  }

  /** Bytes of the merged weight copies held (kept across swaps for the next merge). */
  get mergedBytes(): number {
    return this.merged.bytes;
  }

  /** Tokens currently cached. */
  get cachedTokens(): readonly number[] {
    return this.tokens;
  }

  /** Forgets the cache (the next prefill recomputes everything). */
  reset(): void {
    this.tokens = [];
  }

  /**
   * Runs a prompt, reusing the cached keys of its longest common prefix with the tokens
   * already cached; returns the last position's logits.
   */
  async prefill(ids: readonly number[], signal?: AbortSignal): Promise<PrefillResult> {
    if (ids.length === 0) throw new RangeError('a prompt needs at least one token');
    const p = this.commonPrefix(ids);
    const logits = await this.run(ids.slice(p), signal);
    return { logits, reused: p };
  }

  /** Appends one token (the one just sampled) and returns the next position's logits. */
  async step(id: number, signal?: AbortSignal): Promise<Float32Array> {
    return this.run([id], signal);
  }

  /** `prefill`, reading back only the candidates `sel` asks for. */
  async prefillSelect(ids: readonly number[], sel: Selection, signal?: AbortSignal): Promise<PrefillSelectResult> {
    if (ids.length === 0) throw new RangeError('a prompt needs at least one token');
    const p = this.commonPrefix(ids);
    const candidates = await this.run(ids.slice(p), signal, sel);
    return { candidates, reused: p };
  }

  /** `step`, reading back only the candidates `sel` asks for. */
  async stepSelect(id: number, sel: Selection, signal?: AbortSignal): Promise<Candidates> {
    return this.run([id], signal, sel);
  }

  /**
   * The whole logits of the last position run, for a draw the candidates cannot make (a
   * wide top-p nucleus): after a *Select call, with its repetition penalty applied.
   */
  async readLogits(): Promise<Float32Array> {
    if (this.busy) throw new Error('the decoder is already running a forward pass');
    const device = this.memory.device;
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(this.s.logits, 0, this.logitsStaging(), 0, this.model.config.vocabSize * 4);
    device.queue.submit([enc.finish()]);
    return this.mapLogits();
  }

  destroy(): void {
    this.cache.destroy();
    this.merged.destroy();
    for (const b of Object.values(this.s)) this.memory.release(b);
    if (this.xa) this.memory.release(this.xa);
    this.rope.buffer.destroy();
    this.sampler.destroy();
    this.staging?.destroy();
  }

  /** Keeps the cached tokens that start `ids` (all but its last, whose logits are needed). */
  private commonPrefix(ids: readonly number[]): number {
    let p = 0;
    const max = Math.min(ids.length - 1, this.tokens.length);
    while (p < max && ids[p] === this.tokens[p]) p++;
    this.tokens.length = p;
    return p;
  }

  private logitsStaging(): GPUBuffer {
    this.staging ??= this.memory.device.createBuffer({
      label: 'decoder.logits.staging',
      size: this.model.config.vocabSize * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    return this.staging;
  }

  private async mapLogits(): Promise<Float32Array> {
    const staging = this.logitsStaging();
    await staging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    this.readBackBytes += logits.byteLength;
    return logits;
  }

  private run(ids: number[], signal: AbortSignal | undefined): Promise<Float32Array>;
  private run(ids: number[], signal: AbortSignal | undefined, sel: Selection): Promise<Candidates>;
  private async run(ids: number[], signal?: AbortSignal, sel?: Selection): Promise<Float32Array | Candidates> {
    if (this.busy) throw new Error('the decoder is already running a forward pass');
    const c = this.model.config;
    if (this.tokens.length + ids.length > this.contextLength) {
      throw new RangeError(`the KV cache holds ${this.contextLength} positions; ${this.tokens.length + ids.length} are needed`);
    }
    for (const id of ids)
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize)
        throw new RangeError(`token id ${id} is outside the vocabulary (${c.vocabSize})`);
    this.busy = true;
    let d0 = this.runner.dispatches;
    try {
      if (this.mergePending) {
        await this.mergeAdapter();
        d0 = this.runner.dispatches;
      }
      const device = this.memory.device;
      for (let start = 0; start < ids.length; start += this.chunk) {
        if (signal?.aborted) throw abortError(signal.reason);
        const part = ids.slice(start, start + this.chunk);
        const lastChunk = start + this.chunk >= ids.length;
        const pos0 = this.tokens.length;
        device.queue.writeBuffer(this.s.ids, 0, Uint32Array.from(part));
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        this.recordChunk(pass, part.length, pos0, lastChunk);
        if (lastChunk && sel) this.sampler.record(this.runner, pass, this.s.logits, sel);
        pass.end();
        if (lastChunk && sel) this.sampler.copy(enc);
        else if (lastChunk) enc.copyBufferToBuffer(this.s.logits, 0, this.logitsStaging(), 0, c.vocabSize * 4);
        device.queue.submit([enc.finish()]);
        this.tokens.push(...part);
        if (!lastChunk) {
          await device.queue.onSubmittedWorkDone();
          this.runner.releaseUniforms();
        }
      }
      let out: Float32Array | Candidates;
      if (sel) {
        out = await this.sampler.read();
        this.readBackBytes += this.sampler.lastBytes;
      } else out = await this.mapLogits();
      this.runner.releaseUniforms();
      this.lastDispatches = this.runner.dispatches - d0;
      return out;
    } catch (err) {
      // Whatever was recorded may be half-written: forget the cache rather than trust it.
      this.tokens = [];
      throw err;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Merges the single adapter just set into the weight copies, or, when the copies do not
   * fit (the memory budget, or the GPU is out of memory), serves it unmerged and says so once.
   */
  private async mergeAdapter(): Promise<void> {
    this.mergePending = false;
    const lora = this.adapter!;
    const need = this.merged.bytesToAdd(lora);
    const total = this.memory.report().total;
    let why: string | undefined;
    if (this.memoryBudget !== undefined && total + need > this.memoryBudget)
      why = `its merged weights need ${mib(need)} more, and serving holds ${mib(total)} of a ${mib(this.memoryBudget)} budget`;
    else {
      const t0 = performance.now();
      const oom = await this.merged.merge(this.runner, lora);
      if (oom) why = `the GPU could not allocate ${mib(need)} for its merged weights (${oom})`;
      else this.lastMergeMs = performance.now() - t0;
    }
    if (!why) {
      this.mode = 'merged';
      return;
    }
    this.merged.destroy(); // what did not fit is not kept
    this.mode = 'unmerged';
    if (!this.warned) {
      this.warned = true;
      this.log(
        `Serving the adapter unmerged: ${why}. Decoding adds LoRA products to each projection (slower); ` +
          'free GPU memory or raise the budget to serve it merged.',
      );
    }
  }

  private proj(
    pass: GPUComputePassEncoder,
    lin: GpuLinear,
    l: number,
    target: LoraTarget,
    x: GPUBuffer,
    y: GPUBuffer,
    T: number,
    accumulate = false,
  ): void {
    const weight = (this.mode === 'merged' && this.merged.weight(l, target)) || lin.weight;
    if (T === 1) gemvForward(this.runner, pass, x, weight, lin.bias, y, accumulate);
    else linearForward(this.runner, pass, x, weight, lin.bias, y, T, accumulate);
    const lora = this.mode === 'unmerged' ? this.adapter?.layers[l]?.[target] : undefined;
    if (lora && this.adapter && this.xa) {
      loraForward(this.runner, pass, x, lora.A, lora.B, this.xa, y, T, lora.inF, lora.outF, this.adapter.config.r, this.adapter.scale);
    }
  }

  private recordChunk(pass: GPUComputePassEncoder, T: number, pos0: number, logits: boolean): void {
    const c = this.model.config;
    const H = c.hiddenSize;
    const s = this.s;
    const r = this.runner;
    embeddingForward(r, pass, s.ids, this.model.embed, s.x, T);
    for (let l = 0; l < c.numLayers; l++) {
      const L = this.model.layers[l];
      rmsnormForward(r, pass, s.x, L.inputNorm, s.xn, T, H, c.rmsNormEps);
      this.proj(pass, L.q, l, 'q_proj', s.xn, s.q, T);
      this.proj(pass, L.k, l, 'k_proj', s.xn, s.k, T);
      this.proj(pass, L.v, l, 'v_proj', s.xn, s.v, T);
      this.cache.ropeAndWrite(r, pass, l, s.q, s.k, s.v, this.rope, c.numHeads, pos0, T);
      attentionCached(r, pass, s.q, this.cache.k[l], this.cache.v[l], s.attn, T, pos0, c.numHeads, c.numKvHeads, c.headDim, this.kvType);
      // The residual stream is accumulated in place (each output element read and written
      // by one thread): no copies.
      this.proj(pass, L.o, l, 'o_proj', s.attn, s.x, T, true); // x += o(attn)
      rmsnormForward(r, pass, s.x, L.postNorm, s.xn2, T, H, c.rmsNormEps);
      this.proj(pass, L.gate, l, 'gate_proj', s.xn2, s.gate, T);
      this.proj(pass, L.up, l, 'up_proj', s.xn2, s.up, T);
      siluGateForward(r, pass, s.gate, s.up, s.act, T * c.intermediateSize);
      this.proj(pass, L.down, l, 'down_proj', s.act, s.x, T, true); // x += down(act)
    }
    if (!logits) return;
    // A decode step's only row is its last: no copy.
    if (T > 1) copyRange(r, pass, s.x, (T - 1) * H, s.last, 0, H);
    rmsnormForward(r, pass, T > 1 ? s.last : s.x, this.model.finalNorm, s.lastNormed, 1, H, c.rmsNormEps);
    gemvForward(r, pass, s.lastNormed, this.model.lmHead, undefined, s.logits);
  }
}
