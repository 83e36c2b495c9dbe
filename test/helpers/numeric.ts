// Random inputs and error measures for comparing GPU results with float64 references.
import { Rng } from '../../src/random.ts';
import { floatToBf16, bf16ToFloat } from '../../src/model/dtype.ts';

export function randn(n: number, seed: number, scale = 1): Float64Array {
  const r = new Rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = r.normal() * scale;
  return out;
}

/** Values exactly representable in f32 (what the GPU will see). */
export function f32Round(a: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(a));
}

/** Rounds to bf16, returning the bits and the rounded values as float64. */
export function bf16Round(a: Float64Array): { bits: Uint16Array; values: Float64Array } {
  const bits = new Uint16Array(a.length);
  const values = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    bits[i] = floatToBf16(a[i]);
    values[i] = bf16ToFloat(bits[i]);
  }
  return { bits, values };
}

// The relative error the tuner uses too (one definition, in the product).
export { relErr } from '../../src/gpu/reference/ops.ts';
