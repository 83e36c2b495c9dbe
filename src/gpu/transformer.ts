// The Llama-family transformer on the GPU: forward to the loss, and backward to the
// LoRA gradients with per-layer activation checkpointing (each layer's input is kept;
// the layer is recomputed inside backward). One sequence per micro-batch.
import type { GpuModel, GpuLayer, GpuLinear } from './model.ts';
import type { GpuLora } from './lora.ts';
import type { KernelRunner } from './kernel.ts';
import type { GpuMemory } from './memory.ts';
import type { LoraTarget } from '../model/types.ts';
import { embeddingForward } from './kernels/embedding.ts';
import { linearForward, linearBackwardInput, linearPairForward } from './kernels/linear.ts';
import { loraDAGroup, loraDBGroup, loraGradGroup, loraProjectGroup, type LoraMember } from './kernels/lora.ts';
import { lmHeadLoss, sumLosses, type LossScratch } from './kernels/cross-entropy.ts';
import {
  checkpointStride,
  headChunkTokens,
  layerInputName,
  LORA_GROUPS,
  loraGroupBuffer,
  loraGroups,
  transformerBuffers,
} from './buffers-plan.ts';
import { rmsnormForward, rmsnormBackward } from './kernels/rmsnorm.ts';
import { ropeQK, ropeTableData, type RopeTable } from './kernels/rope.ts';
import { attentionCall } from './kernels/attention-versions.ts';
import { siluGateForward, siluGateBackward } from './kernels/elementwise.ts';

export interface TransformerOptions {
  /** Longest sequence a micro-batch may hold. */
  seqLen: number;
  /** LoRA dropout seed for this step (same seed in forward and the backward recompute). */
  dropoutSeed?: number;
  /** Keep fewer layer inputs and recompute them in backward (≈ √L kept instead of L). */
  lowMemory?: boolean;
}

/** Per-layer scratch reused by every layer (forward, recompute and backward). */
interface Scratch {
  xn: GPUBuffer; // [T,H] normed input (attention, then MLP)
  q: GPUBuffer; // [T, nH*hd]
  k: GPUBuffer; // [T, nKv*hd]
  v: GPUBuffer;
  attn: GPUBuffer; // [T, nH*hd]
  lse: GPUBuffer; // [nH, T]
  h: GPUBuffer; // [T,H] after the attention residual
  xn2: GPUBuffer; // [T,H]
  gate: GPUBuffer; // [T,I]
  up: GPUBuffer;
  act: GPUBuffer; // [T,I] silu(gate)*up
  xa: Map<LoraTarget, GPUBuffer>; // [T, group·r] LoRA intermediate of each target's group
  dxa: GPUBuffer; // [T, group·r]: g = dy·B of the group in backward
  delta: GPUBuffer; // [nH, T] attention backward scratch
  // gradients
  dh: GPUBuffer; // [T,H]
  dxn: GPUBuffer; // [T,H]
  dAct: GPUBuffer; // [T,I]
  dGate: GPUBuffer; // aliases act: dead once the down projection's backward has read it
  dUp: GPUBuffer;
  dAttn: GPUBuffer; // [T, nH*hd]
  dq: GPUBuffer;
  dk: GPUBuffer;
  dv: GPUBuffer;
}

export class Transformer {
  readonly T: number;
  /** inputs[l] holds layer l's input, inputs[L] the final hidden state; in low memory mode
   *  layers inside a segment share the segment buffers (see buffers-plan.ts). */
  private inputs: GPUBuffer[] = [];
  private stride: number;
  private s: Scratch;
  private ids: GPUBuffer;
  private targets: GPUBuffer;
  private finalNormed: GPUBuffer;
  private dx: GPUBuffer;
  private losses: GPUBuffer;
  /** Mean loss of the last forward (1 float), read back asynchronously. */
  readonly loss: GPUBuffer;
  private lossScratch: LossScratch;
  /** Whether the last forward left the LM head's gradient in dxn for a backward. */
  private headGrad = false;
  private rope: RopeTable;
  private tokens = 0;
  private counted = 0;
  private buffers: GPUBuffer[];

  constructor(
    readonly runner: KernelRunner,
    readonly memory: GpuMemory,
    readonly model: GpuModel,
    readonly adapter: GpuLora | undefined,
    readonly opts: TransformerOptions,
  ) {
    const c = model.config;
    const T = (this.T = opts.seqLen);
    const specs = transformerBuffers(c, T, adapter?.config, opts.lowMemory);
    this.stride = checkpointStride(c.numLayers, !!opts.lowMemory);
    const buf = new Map(specs.map((sp) => [sp.name, memory.buffer(sp.category, sp.words * 4, sp.name)]));
    this.buffers = [...buf.values()];
    const get = (name: string) => buf.get(name)!;
    for (let l = 0; l <= c.numLayers; l++) this.inputs.push(get(layerInputName(l, c.numLayers, this.stride)));
    const xa = new Map<LoraTarget, GPUBuffer>();
    for (const g of loraGroups(adapter?.config.targets ?? [])) for (const t of g) xa.set(t, get(loraGroupBuffer(g)));
    const n = (k: keyof Omit<Scratch, 'xa'>) => get(k);
    this.s = {
      xn: n('xn'),
      q: n('q'),
      k: n('k'),
      v: n('v'),
      attn: n('attn'),
      lse: n('lse'),
      h: n('h'),
      xn2: n('xn2'),
      gate: n('gate'),
      up: n('up'),
      act: n('act'),
      xa,
      dxa: n('dxa'),
      delta: n('delta'),
      dh: n('dh'),
      dxn: n('dxn'),
      dAct: n('dAct'),
      dGate: n('act'),
      dUp: n('dUp'),
      dAttn: n('dAttn'),
      dq: n('dq'),
      dk: n('dk'),
      dv: n('dv'),
    };
    this.ids = get('ids');
    this.targets = get('targets');
    this.finalNormed = get('finalNormed');
    this.dx = get('dx');
    this.losses = get('losses');
    this.loss = get('loss');
    this.lossScratch = { logits: get('ce.logits'), chunk: headChunkTokens(T, c.vocabSize, c.hiddenSize) };
    this.rope = { buffer: get('rope.table'), positions: T, half: c.headDim / 2 };
    memory.device.queue.writeBuffer(this.rope.buffer, 0, ropeTableData(T, c.headDim, c.ropeTheta, c.ropeLinearFactor));
  }

  /** Frees this transformer's activations and scratch (the model and adapter stay). */
  destroy(): void {
    for (const b of this.buffers) this.memory.release(b);
    this.buffers = [];
  }

  /**
   * Sets the tokens of the next micro-batch. `targets[t]` is the id to predict at t, or −1
   * (not trained on: padding, FIM sentinels); by default the next token, last one masked.
   * Returns how many positions count towards the loss.
   */
  setBatch(ids: ArrayLike<number>, targets?: ArrayLike<number>): number {
    const T = ids.length;
    if (T < 1 || T > this.T) throw new RangeError(`a micro-batch holds 1..${this.T} tokens, got ${T}`);
    const tg = new Int32Array(T);
    for (let t = 0; t < T; t++) tg[t] = targets ? targets[t] : t + 1 < T ? ids[t + 1] : -1;
    let counted = 0;
    for (const v of tg) if (v >= 0) counted++;
    const q = this.memory.device.queue;
    q.writeBuffer(this.ids, 0, Uint32Array.from(ids));
    q.writeBuffer(this.targets, 0, tg);
    this.tokens = T;
    this.counted = counted;
    return counted;
  }

  get batchTokens(): number {
    return this.tokens;
  }

  /**
   * Records the forward pass to per-token losses and the mean loss (in `this.loss`). With
   * `gradScale` (training: `recordBackward` follows), the LM head also leaves
   * d(gradScale · Σ token losses)/d(final normed state) for backward, from the same logits.
   */
  recordForward(pass: GPUComputePassEncoder, opts: { gradScale?: number } = {}): void {
    const c = this.model.config;
    const T = this.tokens;
    embeddingForward(this.runner, pass, this.ids, this.model.embed, this.inputs[0], T);
    for (let l = 0; l < c.numLayers; l++) this.layerForward(pass, l, this.inputs[l], this.inputs[l + 1]);
    rmsnormForward(this.runner, pass, this.inputs[c.numLayers], this.model.finalNorm, this.finalNormed, T, c.hiddenSize, c.rmsNormEps);
    const grad = opts.gradScale === undefined ? undefined : { scale: opts.gradScale, dx: this.s.dxn };
    const { finalNormed: x, targets, losses, lossScratch: scratch } = this;
    lmHeadLoss(this.runner, pass, { x, W: this.model.lmHead, targets, losses, T, scratch, grad });
    this.headGrad = !!grad;
    sumLosses(this.runner, pass, this.losses, this.targets, this.loss, T);
  }

  /**
   * Records the backward pass (after `recordForward(pass, { gradScale })` in the same or an
   * earlier pass), accumulating into the adapter's gradients d(gradScale · Σ token losses).
   */
  recordBackward(pass: GPUComputePassEncoder): void {
    if (!this.adapter) throw new Error('backward needs a LoRA adapter: the base weights are frozen');
    if (!this.headGrad)
      throw new Error('backward needs recordForward(pass, { gradScale }) first: the LM head computes its gradient in the forward');
    const c = this.model.config;
    const T = this.tokens;
    const H = c.hiddenSize;
    // Final normed state (its gradient in dxn, from the forward's LM head) → final hidden state.
    rmsnormBackward(this.runner, pass, this.inputs[c.numLayers], this.model.finalNorm, this.s.dxn, this.dx, T, H, c.rmsNormEps, false);
    // Segments of `stride` layers from the top; a segment's inputs are recomputed from its
    // first (kept) input, then its layers run backward. stride 1: every input is kept.
    for (let start = Math.floor((c.numLayers - 1) / this.stride) * this.stride; start >= 0; start -= this.stride) {
      const end = Math.min(start + this.stride, c.numLayers);
      for (let l = start; l < end - 1; l++) this.layerForward(pass, l, this.inputs[l], this.inputs[l + 1]);
      for (let l = end - 1; l >= start; l--) {
        this.layerForward(pass, l, this.inputs[l], undefined); // recompute this layer's activations
        this.layerBackward(pass, l, this.inputs[l]);
      }
    }
  }

  /** Records logits [T, vocab] of the last forward into `out` (small vocabularies: tests, debugging). */
  recordLogits(pass: GPUComputePassEncoder, out: GPUBuffer): void {
    linearForward(this.runner, pass, this.finalNormed, this.model.lmHead, undefined, out, this.tokens, false);
  }

  /** Per-token losses of the last forward ([T] f32, 0 where masked). */
  get tokenLosses(): GPUBuffer {
    return this.losses;
  }
  get countedTokens(): number {
    return this.counted;
  }

  /** The layer's LoRA parameters of the targets of `group` it has, as the grouped kernels take them. */
  private loraGroup(l: number, group: readonly LoraTarget[]): { targets: LoraTarget[]; members: LoraMember[]; xa: GPUBuffer } | undefined {
    const layer = this.adapter?.layers[l];
    const targets = group.filter((t) => layer?.[t]);
    if (!layer || targets.length === 0) return undefined;
    const members = targets.map((t) => {
      const p = layer[t]!;
      return { A: p.A, B: p.B, dA: p.dA, dB: p.dB, outF: p.outF, dropout: this.dropout(t) };
    });
    return { targets, members, xa: this.s.xa.get(targets[0])! };
  }

  /**
   * The projections of one LoRA group reading x: xa = drop(x)·Aᵀ for the group in one
   * dispatch, then each y = (residual +) x·Wᵀ + b + s·xa·Bᵀ (LoRA and the residual in the
   * GEMM's epilogue).
   */
  private projGroup(
    pass: GPUComputePassEncoder,
    l: number,
    group: readonly LoraTarget[],
    lins: readonly GpuLinear[],
    x: GPUBuffer,
    ys: readonly GPUBuffer[],
    residual?: GPUBuffer,
  ): void {
    const T = this.tokens;
    const g = this.loraGroup(l, group);
    const r = this.adapter?.config.r ?? 0;
    if (g) loraProjectGroup(this.runner, pass, x, g.members, g.xa, T, lins[0].weight.cols, r);
    const loras = group.map((t) => {
      const j = g ? g.targets.indexOf(t) : -1;
      return g && j >= 0
        ? { xa: g.xa, stride: g.targets.length * r, col0: j * r, B: g.members[j].B, r, scale: this.adapter!.scale }
        : undefined;
    });
    // gate and up (same shape, no bias): one GEMM dispatch for both.
    if (group.length === 2 && !residual && !lins[0].bias && !lins[1].bias && !!loras[0] === !!loras[1]) {
      linearPairForward(this.runner, pass, x, lins[0].weight, lins[1].weight, ys[0], ys[1], T, loras[0], loras[1]);
      return;
    }
    for (let i = 0; i < group.length; i++)
      linearForward(this.runner, pass, x, lins[i].weight, lins[i].bias, ys[i], T, false, { lora: loras[i], residual });
  }

  /**
   * Backward of one group's projections reading x: g = dy·B for the group (one dispatch),
   * dx (+)= Σ dy·W with s·(g·A)∘mask in each GEMM's epilogue, then dB and dA for the group
   * (one dispatch each, accumulating).
   */
  private projGroupBackward(
    pass: GPUComputePassEncoder,
    l: number,
    group: readonly LoraTarget[],
    lins: readonly GpuLinear[],
    x: GPUBuffer,
    dys: readonly GPUBuffer[],
    dx: GPUBuffer,
  ): void {
    const T = this.tokens;
    const g = this.loraGroup(l, group);
    const r = this.adapter?.config.r ?? 0;
    const scale = this.adapter?.scale ?? 0;
    const gDys = g ? g.targets.map((t) => dys[group.indexOf(t)]) : [];
    if (g) loraGradGroup(this.runner, pass, g.members, gDys, this.s.dxa, T, r);
    group.forEach((t, i) => {
      const j = g ? g.targets.indexOf(t) : -1;
      const width = lins[i].weight.cols;
      const lora =
        g && j >= 0
          ? { g: this.s.dxa, stride: g.targets.length * r, col0: j * r, A: g.members[j].A, width, r, scale, dropout: g.members[j].dropout }
          : undefined;
      linearBackwardInput(this.runner, pass, dys[i], lins[i].weight, dx, T, i > 0, lora);
    });
    if (g) {
      loraDBGroup(this.runner, pass, g.members, gDys, g.xa, T, r, scale);
      loraDAGroup(this.runner, pass, g.members, this.s.dxa, x, T, lins[0].weight.cols, r, scale);
    }
  }

  /** A new dropout mask for the next micro-batch (the backward recompute reuses it). */
  setDropoutSeed(seed: number): void {
    this.opts.dropoutSeed = seed >>> 0;
  }

  private dropout(target: LoraTarget): { p: number; seed: number } | undefined {
    const p = this.adapter?.config.dropout ?? 0;
    if (p <= 0 || this.opts.dropoutSeed === undefined) return undefined;
    // A different mask per target, the same one in forward and the backward recompute.
    return { p, seed: (this.opts.dropoutSeed * 31 + LORA_TARGET_INDEX[target]) >>> 0 };
  }

  private attentionArgs(T: number) {
    const c = this.model.config;
    return { T, nHeads: c.numHeads, nKv: c.numKvHeads, headDim: c.headDim, limits: this.runner.device.limits };
  }

  /** x → out (out undefined: recompute only, leaving the activations in scratch). */
  private layerForward(pass: GPUComputePassEncoder, l: number, x: GPUBuffer, out: GPUBuffer | undefined): void {
    const c = this.model.config;
    const T = this.tokens;
    const H = c.hiddenSize;
    const L: GpuLayer = this.model.layers[l];
    const s = this.s;
    const [QKV, O, GATE_UP, DOWN] = LORA_GROUPS;
    rmsnormForward(this.runner, pass, x, L.inputNorm, s.xn, T, H, c.rmsNormEps);
    this.projGroup(pass, l, QKV, [L.q, L.k, L.v], s.xn, [s.q, s.k, s.v]);
    ropeQK(this.runner, pass, s.q, s.k, this.rope, T, c.numHeads, c.numKvHeads, c.headDim, 0, 1);
    // The version (simple or flash) is the runner's selection's: tuned, forced or the fallback.
    attentionCall(this.runner, pass, { ...this.attentionArgs(T), q: s.q, k: s.k, v: s.v, out: s.attn, lse: s.lse });
    this.projGroup(pass, l, O, [L.o], s.attn, [s.h], x); // h = x + o(attn)
    rmsnormForward(this.runner, pass, s.h, L.postNorm, s.xn2, T, H, c.rmsNormEps);
    this.projGroup(pass, l, GATE_UP, [L.gate, L.up], s.xn2, [s.gate, s.up]);
    siluGateForward(this.runner, pass, s.gate, s.up, s.act, T * c.intermediateSize);
    if (out) {
      this.projGroup(pass, l, DOWN, [L.down], s.act, [out], s.h); // out = h + down(act)
    } else {
      // Recompute only: backward needs the down projection's LoRA intermediate, not its output.
      const g = this.loraGroup(l, DOWN);
      if (g) loraProjectGroup(this.runner, pass, s.act, g.members, g.xa, T, c.intermediateSize, this.adapter!.config.r);
    }
  }

  /** Given this.dx = dL/d(layer output) and recomputed activations, leaves dL/d(layer input) in this.dx. */
  private layerBackward(pass: GPUComputePassEncoder, l: number, x: GPUBuffer): void {
    const c = this.model.config;
    const T = this.tokens;
    const H = c.hiddenSize;
    const L = this.model.layers[l];
    const s = this.s;
    const dOut = this.dx;
    const [QKV, O, GATE_UP, DOWN] = LORA_GROUPS;
    // out = h + down(act): d(act) from down; dh starts as dOut. (down's dA reads act before dGate overwrites it.)
    this.projGroupBackward(pass, l, DOWN, [L.down], s.act, [dOut], s.dAct);
    siluGateBackward(this.runner, pass, s.gate, s.up, s.dAct, s.dGate, s.dUp, T * c.intermediateSize);
    this.projGroupBackward(pass, l, GATE_UP, [L.gate, L.up], s.xn2, [s.dGate, s.dUp], s.dxn);
    // dh = dOut + rmsnorm'(h)·dxn
    rmsnormBackward(this.runner, pass, s.h, L.postNorm, s.dxn, s.dh, T, H, c.rmsNormEps, false, dOut);
    // h = x + o(attn)
    this.projGroupBackward(pass, l, O, [L.o], s.attn, [s.dh], s.dAttn);
    const grads = { dout: s.dAttn, dq: s.dq, dk: s.dk, dv: s.dv, delta: s.delta };
    attentionCall(this.runner, pass, { ...this.attentionArgs(T), q: s.q, k: s.k, v: s.v, out: s.attn, lse: s.lse, grads });
    ropeQK(this.runner, pass, s.dq, s.dk, this.rope, T, c.numHeads, c.numKvHeads, c.headDim, 0, -1);
    this.projGroupBackward(pass, l, QKV, [L.q, L.k, L.v], s.xn, [s.dq, s.dk, s.dv], s.dxn);
    // dx = dh + rmsnorm'(x)·dxn
    rmsnormBackward(this.runner, pass, x, L.inputNorm, s.dxn, this.dx, T, H, c.rmsNormEps, false, s.dh);
  }
}

const LORA_TARGET_INDEX: Record<LoraTarget, number> = {
  q_proj: 0,
  k_proj: 1,
  v_proj: 2,
  o_proj: 3,
  gate_proj: 4,
  up_proj: 5,
  down_proj: 6,
};
