// Tensor encodings for GGUF: f32, f16 (round to nearest even) and Q8_0 as ggml's
// quantize_row_q8_0_ref: per block of 32, d = max|x|/127 stored as f16, q = round(x/d)
// with halves away from zero (roundf).
import { floatToF16 } from '../dtype.ts';

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
