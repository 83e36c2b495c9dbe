// What a linear GEMM (every version in linear.ts and matmul-tiled.ts) may add to its
// outputs before the store, so that no separate pass reads and writes y again: LoRA's
// s·xa·Bᵀ (lora.ts) and a residual input (y = residual + x·Wᵀ: no copy of the residual
// into y first). Each combination is its own compiled variant; without them the GEMM is
// the plain one.
import type { LinearArgs } from './linear.ts';
import type { LoraUp } from './lora.ts';
import { loraEpilogueBuffers, wgslLoraEpilogue } from './lora.ts';

/** Which optional epilogue terms a compiled GEMM carries (each a WGSL variant). */
export interface Epilogue {
  lora: boolean;
  residual: boolean;
  /** A second weight and output in the same dispatch (linear.ts `LinearPair`). */
  pair?: boolean;
}

/** Extra bindings of a forward GEMM's epilogue from `binding` on; returns [wgsl, next binding]. */
export function wgslForwardEpilogue(e: Epilogue, binding: number): [string, number] {
  let code = '';
  if (e.lora) {
    code += wgslLoraEpilogue('up', binding);
    binding += 2;
  }
  if (e.residual) code += `\n@group(0) @binding(${binding++}) var<storage, read> res: array<f32>;`;
  return [code, binding];
}

/** The epilogue's extra storage buffers, in binding order. */
export function forwardEpilogueBuffers(a: { lora?: LoraUp; residual?: GPUBuffer }): GPUBuffer[] {
  return [...(a.lora ? loraEpilogueBuffers(a.lora) : []), ...(a.residual ? [a.residual] : [])];
}

/**
 * WGSL that adds the epilogue terms to `v` for output row t, band column o, flat index yi:
 * the residual before an accumulated y and LoRA last, the order of the separate passes
 * this replaces (copy, accumulate, then LoRA's y += s·xa·Bᵀ), so the sums round alike.
 */
export const forwardResidualTerm = (e: Epilogue, yi: string) => (e.residual ? `v += res[${yi}];` : '');
export const forwardLoraTerm = (e: Epilogue, t: string, o: string) => (e.lora ? `v += loraTerm(${t}, ${o});` : '');

/** The extra storage buffers of a paired call, after the epilogue's. */
export function pairBuffers(a: LinearArgs): GPUBuffer[] {
  return a.pair ? [a.pair.band.buffer, a.pair.y, ...(a.pair.lora ? [a.pair.lora.B] : [])] : [];
}

/** Checks a paired call's arguments (the kernels assume them). */
export function checkPair(a: LinearArgs): void {
  if (!a.pair) return;
  if (a.bias || a.residual || a.accumulate) throw new Error('a paired linear call takes no bias, residual or accumulate');
  if (a.pair.band.rows !== a.band.rows) throw new Error('a paired linear call needs bands of the same rows');
  if (!!a.pair.lora !== !!a.lora) throw new Error('a paired linear call has LoRA on both weights or on neither');
}
