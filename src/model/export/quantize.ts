// Tensor encodings for GGUF: f32, f16 (round to nearest even) and Q8_0 as ggml's
// quantize_row_q8_0_ref: per block of 32, d = max|x|/127 stored as f16, q = round(x/d)
// with halves away from zero (roundf).
import { f16ToFloat, floatToF16 } from '../dtype.ts';

export function encodeF32(x: Float32Array): Uint8Array {
  return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
}

export function encodeF16(x: Float32Array): Uint8Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = floatToF16(x[i]);
  return new Uint8Array(out.buffer);
}

export const Q8_0_BLOCK = 32;

export function encodeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % Q8_0_BLOCK) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK} values, got ${x.length}`);
  const blocks = x.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    view.setUint16(b * 34, floatToF16(d), true);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const v = x[base + j] * id;
      view.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.floor(Math.abs(v) + 0.5));
    }
  }
  return out;
}

export const QK_K = 256;

/**
 * Q4_K (ggml's block_q4_K, 144 bytes per 256 values): f16 d and dmin, 8 sub-blocks of 32
 * with a 6-bit scale and min each (packed in 12 bytes), 4-bit quants; x ≈ d·sc·q − dmin·m.
 * Scales from each sub-block's min/max (ggml's reference also searches around them; this
 * keeps the plain fit).
 */
export function encodeQ4_K(x: Float32Array): Uint8Array {
  if (x.length % QK_K) throw new Error(`Q4_K needs a multiple of ${QK_K} values, got ${x.length}`);
  const blocks = x.length / QK_K;
  const out = new Uint8Array(blocks * 144);
  const view = new DataView(out.buffer);
  const scales = new Float64Array(8);
  const mins = new Float64Array(8);
  const L = new Uint8Array(QK_K);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK_K;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < 32; i++) {
        const v = x[base + 32 * j + i];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      lo = Math.min(lo, 0);
      scales[j] = (hi - lo) / 15;
      mins[j] = -lo;
      maxScale = Math.max(maxScale, scales[j]);
      maxMin = Math.max(maxMin, mins[j]);
    }
    const round = (v: number) => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
    const inv = maxScale > 0 ? 63 / maxScale : 0;
    const invMin = maxMin > 0 ? 63 / maxMin : 0;
    const o = b * 144;
    const sc = out.subarray(o + 4, o + 16);
    const ls = new Uint8Array(8);
    const lm = new Uint8Array(8);
    for (let j = 0; j < 8; j++) {
      ls[j] = Math.min(63, round(inv * scales[j]));
      lm[j] = Math.min(63, round(invMin * mins[j]));
      if (j < 4) {
        sc[j] = ls[j];
        sc[j + 4] = lm[j];
      } else {
        sc[j + 4] = (ls[j] & 0xf) | ((lm[j] & 0xf) << 4);
        sc[j - 4] |= (ls[j] >> 4) << 6;
        sc[j] |= (lm[j] >> 4) << 6;
      }
    }
    const dBits = floatToF16(maxScale / 63);
    const mBits = floatToF16(maxMin / 63);
    view.setUint16(o, dBits, true);
    view.setUint16(o + 2, mBits, true);
    const d = f16ToFloat(dBits);
    const dmin = f16ToFloat(mBits);
    for (let j = 0; j < 8; j++) {
      const ds = d * ls[j];
      const dm = dmin * lm[j];
      for (let i = 0; i < 32; i++) {
        const v = ds ? round((x[base + 32 * j + i] + dm) / ds) : 0;
        L[32 * j + i] = Math.max(0, Math.min(15, v));
      }
    }
    const qs = out.subarray(o + 16, o + 144);
    for (let j = 0, q = 0; j < QK_K; j += 64, q += 32) for (let l = 0; l < 32; l++) qs[q + l] = L[j + l] | (L[j + l + 32] << 4);
  }
  return out;
}
