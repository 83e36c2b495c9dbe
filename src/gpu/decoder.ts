// Inference with a KV cache: a prompt is prefilled in chunks (matrix products over the
// chunk's tokens), then each new token is one decode step whose projections are
// matrix–vector products that read every weight once. Only the last position's logits
// are computed and read back. A new prompt that shares a prefix with the tokens already
// in the cache (the user typed a character) reuses their keys and values.
// The adapter (one LoRA, possibly a weighted mix made on the host) can be swapped without
// touching the base weights; swapping drops the cache, whose keys depended on it.
import type { GpuModel, GpuLinear } from './model.ts';
import type { GpuLora, LoraParam } from './lora.ts';
import { KernelRunner } from './kernel.ts';
import type { KernelSelection } from './kernel-versions.ts';
import type { GpuMemory } from './memory.ts';
import type { LoraTarget } from '../model/types.ts';
import { KvCache, copyRange } from './kv-cache.ts';
import { embeddingForward } from './kernels/embedding.ts';
import { linearForward } from './kernels/linear.ts';
import { gemvForward } from './kernels/gemv.ts';
import { loraForward } from './kernels/lora.ts';
import { rmsnormForward } from './kernels/rmsnorm.ts';
import { ropeForward, createRopeTable, type RopeTable } from './kernels/rope.ts';
import { attentionCached } from './kernels/attention-cached.ts';
import { copyInto, siluGateForward } from './kernels/elementwise.ts';
import { abortError } from '../progress.ts';

export interface DecoderOptions {
  /** Positions the KV cache holds (prompt + generated tokens). */
  contextLength: number;
  /** Most prompt tokens prefilled in one submit (bounds scratch memory and dispatch time). */
  chunk?: number;
  /** Kernel versions to use (tuned picks or a forced family); default: the fallback versions. */
  kernels?: KernelSelection;
}

export interface PrefillResult {
  /** Logits of the prompt's last position [vocab]. */
  logits: Float32Array;
  /** Prompt tokens whose keys and values were reused from the previous call. */
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
  h: GPUBuffer;
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
  private cache: KvCache;
  private s: Scratch;
  private rope: RopeTable;
  private staging: GPUBuffer;
  private xa?: GPUBuffer;
  private adapter?: GpuLora;
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
    this.cache = new KvCache(memory, c, this.contextLength);
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
      h: b('h', C * H),
      xn2: b('xn2', C * H),
      gate: b('gate', C * I),
      up: b('up', C * I),
      act: b('act', C * I),
      last: b('last', H),
      lastNormed: b('lastNormed', H),
      logits: b('logits', c.vocabSize),
    };
    this.rope = createRopeTable(device, this.contextLength, c.headDim, c.ropeTheta, c.ropeLinearFactor);
    this.staging = device.createBuffer({
      label: 'decoder.logits.staging',
      size: c.vocabSize * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Serves with this adapter (or the base model alone); the cache is dropped. */
  setAdapter(adapter: GpuLora | undefined): void {
    this.adapter = adapter;
    this.tokens = [];
    if (this.xa) this.memory.release(this.xa);
    this.xa = adapter ? this.memory.buffer('scratch', this.chunk * adapter.config.r * 4, 'decoder.xa') : undefined;
  }

  get currentAdapter(): GpuLora | undefined {
    return this.adapter;
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
    let p = 0;
    const max = Math.min(ids.length - 1, this.tokens.length); // the last token always runs: its logits are needed
    while (p < max && ids[p] === this.tokens[p]) p++;
    this.tokens.length = p;
    const logits = await this.run(ids.slice(p), signal);
    return { logits, reused: p };
  }

  /** Appends one token (the one just sampled) and returns the next position's logits. */
  async step(id: number, signal?: AbortSignal): Promise<Float32Array> {
    return this.run([id], signal);
  }

  destroy(): void {
    this.cache.destroy();
    for (const b of Object.values(this.s)) this.memory.release(b);
    if (this.xa) this.memory.release(this.xa);
    this.rope.buffer.destroy();
    this.staging.destroy();
  }

  private async run(ids: number[], signal?: AbortSignal): Promise<Float32Array> {
    if (this.busy) throw new Error('the decoder is already running a forward pass');
    const c = this.model.config;
    if (this.tokens.length + ids.length > this.contextLength) {
      throw new RangeError(`the KV cache holds ${this.contextLength} positions; ${this.tokens.length + ids.length} are needed`);
    }
    for (const id of ids)
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize)
        throw new RangeError(`token id ${id} is outside the vocabulary (${c.vocabSize})`);
    this.busy = true;
    try {
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
        pass.end();
        if (lastChunk) enc.copyBufferToBuffer(this.s.logits, 0, this.staging, 0, c.vocabSize * 4);
        device.queue.submit([enc.finish()]);
        this.tokens.push(...part);
        if (!lastChunk) {
          await device.queue.onSubmittedWorkDone();
          this.runner.releaseUniforms();
        }
      }
      await this.staging.mapAsync(GPUMapMode.READ);
      const logits = new Float32Array(this.staging.getMappedRange().slice(0));
      this.staging.unmap();
      this.runner.releaseUniforms();
      return logits;
    } catch (err) {
      // Whatever was recorded may be half-written: forget the cache rather than trust it.
      this.tokens = [];
      throw err;
    } finally {
      this.busy = false;
    }
  }

  private proj(
    pass: GPUComputePassEncoder,
    lin: GpuLinear,
    lora: LoraParam | undefined,
    x: GPUBuffer,
    y: GPUBuffer,
    T: number,
    accumulate = false,
  ): void {
    if (T === 1) gemvForward(this.runner, pass, x, lin.weight, lin.bias, y, accumulate);
    else linearForward(this.runner, pass, x, lin.weight, lin.bias, y, T, accumulate);
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
      const lo: Partial<Record<LoraTarget, LoraParam>> = this.adapter?.layers[l] ?? {};
      rmsnormForward(r, pass, s.x, L.inputNorm, s.xn, T, H, c.rmsNormEps);
      this.proj(pass, L.q, lo.q_proj, s.xn, s.q, T);
      this.proj(pass, L.k, lo.k_proj, s.xn, s.k, T);
      this.proj(pass, L.v, lo.v_proj, s.xn, s.v, T);
      ropeForward(r, pass, s.q, s.q, this.rope, T, c.numHeads, c.headDim, pos0);
      ropeForward(r, pass, s.k, s.k, this.rope, T, c.numKvHeads, c.headDim, pos0);
      this.cache.write(r, pass, l, s.k, s.v, pos0, T);
      attentionCached(r, pass, s.q, this.cache.k[l], this.cache.v[l], s.attn, T, pos0, c.numHeads, c.numKvHeads, c.headDim);
      copyInto(r, pass, s.x, s.h, T * H);
      this.proj(pass, L.o, lo.o_proj, s.attn, s.h, T, true); // h = x + o(attn)
      rmsnormForward(r, pass, s.h, L.postNorm, s.xn2, T, H, c.rmsNormEps);
      this.proj(pass, L.gate, lo.gate_proj, s.xn2, s.gate, T);
      this.proj(pass, L.up, lo.up_proj, s.xn2, s.up, T);
      siluGateForward(r, pass, s.gate, s.up, s.act, T * c.intermediateSize);
      copyInto(r, pass, s.h, s.x, T * H);
      this.proj(pass, L.down, lo.down_proj, s.act, s.x, T, true); // x = h + down(act)
    }
    if (!logits) return;
    copyRange(r, pass, s.x, (T - 1) * H, s.last, 0, H);
    rmsnormForward(r, pass, s.last, this.model.finalNorm, s.lastNormed, 1, H, c.rmsNormEps);
    gemvForward(r, pass, s.lastNormed, this.model.lmHead, undefined, s.logits);
  }
}
