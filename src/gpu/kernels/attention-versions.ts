// Training attention as a kernel operation with versions (kernel-versions.ts): the simple
// one (attention.ts, one thread per query row; the fallback, any adapter and shape) and
// FlashAttention-2 (attention-flash.ts, K/V and Q blocks in workgroup memory), family
// `tiled`, and its f16-math twin (attention-flash-f16.ts, shader-f16), family `tiled-f16`.
// One version covers forward and backward (either forward pairs with either backward, but
// one pick serves both). The shape key: T tokens, K = head size, N = query
// heads per kv head (what the flash tiles depend on).
import type { KernelVersion, OpShape } from '../kernel-versions.ts';
import type { KernelRunner } from '../kernel.ts';
import { attentionBackward, attentionForward } from './attention.ts';
import { attentionBackwardFlash, attentionForwardFlash, flashTiles, type FlashLimits, type FlashTiles } from './attention-flash.ts';
import { attentionBackwardFlashF16, attentionForwardFlashF16, flashTilesF16 } from './attention-flash-f16.ts';

/** The buffers of the backward pass (dq, dk, dv written; delta is scratch [nHeads, T]). */
export interface AttentionGrads {
  dout: GPUBuffer;
  dq: GPUBuffer;
  dk: GPUBuffer;
  dv: GPUBuffer;
  delta: GPUBuffer;
}

/** One call: the forward (grads absent) or the backward (grads given). */
export interface AttentionArgs {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  out: GPUBuffer;
  lse: GPUBuffer;
  grads?: AttentionGrads;
  T: number;
  nHeads: number;
  nKv: number;
  headDim: number;
  /** The device's limits (the flash tiles must fit them). */
  limits: FlashLimits;
}

export function attentionShape(a: Pick<AttentionArgs, 'T' | 'nHeads' | 'nKv' | 'headDim'>): OpShape {
  return { T: a.T, K: a.headDim, N: a.nHeads / a.nKv };
}

export const ATTENTION_SIMPLE: KernelVersion<AttentionArgs> = {
  op: 'attention',
  name: 'attention.simple',
  family: 'register',
  features: [],
  workgroupBytes: 0,
  summary: 'one thread per (query, head) row, K/V read from memory; any shape',
  supports: () => true,
  record(runner, pass, a) {
    if (!a.grads) attentionForward(runner, pass, a.q, a.k, a.v, a.out, a.lse, a.T, a.nHeads, a.nKv, a.headDim);
    else {
      const g = a.grads;
      attentionBackward(runner, pass, a.q, a.k, a.v, a.out, a.lse, g.dout, g.dq, g.dk, g.dv, g.delta, a.T, a.nHeads, a.nKv, a.headDim);
    }
  },
};

export const ATTENTION_FLASH: KernelVersion<AttentionArgs> = {
  op: 'attention',
  name: 'attention.flash',
  family: 'tiled',
  features: [],
  // The tiles shrink to the device's workgroup memory (flashTiles); supports() checks they fit.
  workgroupBytes: 0,
  summary: 'FlashAttention-2: all query heads of a kv group per workgroup, K/V and Q blocks in workgroup memory, online softmax',
  supports: (a) => fits(flashTiles, a),
  record(runner, pass, a) {
    if (!a.grads) attentionForwardFlash(runner, pass, a.q, a.k, a.v, a.out, a.lse, a.T, a.nHeads, a.nKv, a.headDim);
    else {
      const g = a.grads;
      attentionBackwardFlash(runner, pass, a.q, a.k, a.v, a.out, a.lse, g.dout, g.dq, g.dk, g.dv, g.delta, a.T, a.nHeads, a.nKv, a.headDim);
    }
  },
};

export const ATTENTION_FLASH_F16: KernelVersion<AttentionArgs> = {
  op: 'attention',
  name: 'attention.flash-f16',
  family: 'tiled-f16',
  features: ['shader-f16'],
  // Its tiles shrink to the device's workgroup memory too (flashTilesF16).
  workgroupBytes: 0,
  summary:
    'FlashAttention-2 with Q/K/V/dout blocks as f16 in workgroup memory (half the bytes), f16 dot products, f32 softmax and accumulators',
  supports: (a) => fits(flashTilesF16, a),
  record(runner, pass, a) {
    if (!a.grads) attentionForwardFlashF16(runner, pass, a.q, a.k, a.v, a.out, a.lse, a.T, a.nHeads, a.nKv, a.headDim);
    else {
      const g = a.grads;
      attentionBackwardFlashF16(
        runner,
        pass,
        a.q,
        a.k,
        a.v,
        a.out,
        a.lse,
        g.dout,
        g.dq,
        g.dk,
        g.dv,
        g.delta,
        a.T,
        a.nHeads,
        a.nKv,
        a.headDim,
      );
    }
  },
};

/** Whether a flash version's tiles fit the device for this shape (and the grid the WebGPU limit). */
function fits(tiles: (limits: FlashLimits, hd: number, group: number) => FlashTiles, a: AttentionArgs): boolean {
  if (a.nHeads % a.nKv) return false;
  try {
    const t = tiles(a.limits, a.headDim, a.nHeads / a.nKv);
    return Math.ceil(a.T / Math.min(t.br, t.bck)) <= 65535;
  } catch {
    return false;
  }
}

/** Every version of training attention; the first is the fallback. */
export const ATTENTION_VERSIONS: readonly KernelVersion<AttentionArgs>[] = [ATTENTION_SIMPLE, ATTENTION_FLASH, ATTENTION_FLASH_F16];

/** Records one attention call (forward, or backward when `grads` is given) with the version the selection picks. */
export function attentionCall(runner: KernelRunner, pass: GPUComputePassEncoder, a: AttentionArgs): void {
  runner.kernels.choose(ATTENTION_VERSIONS, attentionShape(a), a).record(runner, pass, a);
}
