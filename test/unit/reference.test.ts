// The float64 references against central finite differences of themselves, so the GPU
// tests compare with something known to be right. h = 1e-5 on float64: truncation error
// O(h²) ≈ 1e-10 and rounding error ≈ 1e-16/h ≈ 1e-11, so 1e-6 relative is a safe bound.
import { describe, expect, it } from 'vitest';
import * as op from '../../src/gpu/reference/ops.ts';
import { refBackward, refForward } from '../../src/gpu/reference/transformer.ts';
import { LORA_TARGETS, type LoraTarget } from '../../src/model/types.ts';
import { randn } from '../helpers/numeric.ts';
import { randomAdapter, refLora, tinyConfig, tinyModel } from '../helpers/tiny.ts';

const H_STEP = 1e-5;

/** Checks analytic d(Σ w·f(x))/dx against central differences at every input. */
function checkGrad(f: (x: Float64Array) => Float64Array, x: Float64Array, analytic: Float64Array, weights: Float64Array, tol = 1e-6): void {
  const num = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xp = x.slice();
    const xm = x.slice();
    xp[i] += H_STEP;
    xm[i] -= H_STEP;
    const fp = f(xp);
    const fm = f(xm);
    let d = 0;
    for (let j = 0; j < fp.length; j++) d += weights[j] * (fp[j] - fm[j]);
    num[i] = d / (2 * H_STEP);
  }
  let err = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    err = Math.max(err, Math.abs(num[i] - analytic[i]));
    scale = Math.max(scale, Math.abs(num[i]));
  }
  expect(err / scale).toBeLessThan(tol);
}

describe('float64 reference ops: backward = finite differences', () => {
  const T = 5;
  it('rmsnorm', () => {
    const H = 6;
    const x = randn(T * H, 1);
    const w = randn(H, 2);
    const dy = randn(T * H, 3);
    checkGrad((v) => op.rmsnorm(v, w, T, H, 1e-6), x, op.rmsnormBackward(x, w, dy, T, H, 1e-6), dy);
  });
  it('linear', () => {
    const W = randn(4 * 3, 1);
    const x = randn(T * 3, 2);
    const dy = randn(T * 4, 3);
    checkGrad((v) => op.linear(v, W, T, 3, 4), x, op.linearBackward(dy, W, T, 3, 4), dy);
  });
  it('lora: dx, dA, dB (with a dropout mask)', () => {
    const [inF, outF, r, s] = [5, 4, 2, 1.5];
    const x = randn(T * inF, 1);
    const A = randn(r * inF, 2);
    const B = randn(outF * r, 3);
    const dy = randn(T * outF, 4);
    const mask = Float64Array.from({ length: T * inF }, (_, i) => (i % 3 ? 1.5 : 0));
    const g = op.loraBackward(x, A, B, dy, T, inF, outF, r, s, mask);
    checkGrad((v) => op.lora(v, A, B, T, inF, outF, r, s, mask), x, g.dx, dy);
    checkGrad((v) => op.lora(x, v, B, T, inF, outF, r, s, mask), A, g.dA, dy);
    checkGrad((v) => op.lora(x, A, v, T, inF, outF, r, s, mask), B, g.dB, dy);
  });
  it('rope (and it is a rotation: norms are kept)', () => {
    const [nH, hd] = [2, 6];
    const x = randn(T * nH * hd, 1);
    const dy = randn(T * nH * hd, 2);
    checkGrad((v) => op.rope(v, T, nH, hd, 10000, 3), x, op.ropeBackward(dy, T, nH, hd, 10000, 3), dy);
    const y = op.rope(x, T, nH, hd, 10000);
    expect(Math.hypot(...y)).toBeCloseTo(Math.hypot(...x), 10);
    // Position 0 is not rotated; hand case: d=2, pos 1, θ: angle 1 rad.
    expect(Array.from(op.rope(Float64Array.of(1, 0, 1, 0), 2, 1, 2, 10000))).toEqual([1, 0, Math.cos(1), Math.sin(1)]);
  });
  it('attention: gradients, causality and the GQA mapping', () => {
    const [nH, nKv, hd] = [4, 2, 3];
    const q = randn(T * nH * hd, 1);
    const k = randn(T * nKv * hd, 2);
    const v = randn(T * nKv * hd, 3);
    const dout = randn(T * nH * hd, 4);
    const g = op.attentionBackward(q, k, v, dout, T, nH, nKv, hd);
    checkGrad((x) => op.attention(x, k, v, T, nH, nKv, hd), q, g.dq, dout);
    checkGrad((x) => op.attention(q, x, v, T, nH, nKv, hd), k, g.dk, dout);
    checkGrad((x) => op.attention(q, k, x, T, nH, nKv, hd), v, g.dv, dout);
    // Changing the last token's key/value leaves earlier outputs unchanged.
    const k2 = k.slice();
    k2[k2.length - 1] += 1;
    const a = op.attention(q, k, v, T, nH, nKv, hd);
    const b = op.attention(q, k2, v, T, nH, nKv, hd);
    expect(Array.from(b.subarray(0, (T - 1) * nH * hd))).toEqual(Array.from(a.subarray(0, (T - 1) * nH * hd)));
    // Heads 0 and 1 share kv head 0: with equal queries they give equal outputs.
    const qs = q.slice();
    for (let t = 0; t < T; t++) for (let d = 0; d < hd; d++) qs[t * nH * hd + hd + d] = qs[t * nH * hd + d];
    const o = op.attention(qs, k, v, T, nH, nKv, hd);
    for (let t = 0; t < T; t++) for (let d = 0; d < hd; d++) expect(o[t * nH * hd + hd + d]).toBeCloseTo(o[t * nH * hd + d], 12);
  });
  it('silu gate', () => {
    const gate = randn(8, 1);
    const up = randn(8, 2);
    const dh = randn(8, 3);
    const g = op.siluGateBackward(gate, up, dh);
    checkGrad((x) => op.siluGate(x, up), gate, g.dgate, dh);
    checkGrad((x) => op.siluGate(gate, x), up, g.dup, dh);
  });
  it('lm head cross-entropy (masked), and its loss equals −log softmax', () => {
    const [H, V] = [4, 7];
    const x = randn(T * H, 1);
    const W = randn(V * H, 2);
    const targets = [1, -1, 6, 0, 3];
    const ce = op.crossEntropyLmHead(x, W, targets, T, H, V);
    expect(ce.count).toBe(4);
    expect(ce.losses[1]).toBe(0);
    const logits = op.linear(x, W, T, H, V);
    const row = Array.from(logits.subarray(2 * V, 3 * V));
    expect(ce.losses[2]).toBeCloseTo(-Math.log(Math.exp(row[6]) / row.reduce((s, l) => s + Math.exp(l), 0)), 12);
    const dx = op.crossEntropyLmHeadBackward(x, W, targets, T, H, V, 1 / ce.count);
    checkGrad((v) => Float64Array.of(op.crossEntropyLmHead(v, W, targets, T, H, V).loss), x, dx, Float64Array.of(1));
  });
  it('adamw: one step by hand', () => {
    const p = Float64Array.of(1, -2);
    const g = Float64Array.of(0.5, 0.25);
    const m = new Float64Array(2);
    const v = new Float64Array(2);
    op.adamw(p, g, m, v, 1, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    // Step 1: m̂ = g, v̂ = g², update = lr·g/|g| = ±lr; decay first: p·(1 − lr·wd).
    expect(p[0]).toBeCloseTo(1 * (1 - 0.001) - 0.1, 6);
    expect(p[1]).toBeCloseTo(-2 * (1 - 0.001) - 0.1, 6);
    expect(op.clipScale(10, 1)).toBeCloseTo(0.1, 6);
    expect(op.clipScale(0.5, 1)).toBe(1);
    expect(op.globalGradNorm([Float64Array.of(3), Float64Array.of(4)])).toBe(5);
  });
});

describe('float64 reference transformer: LoRA gradients = finite differences', () => {
  for (const arch of ['llama', 'qwen2'] as const) {
    it(`${arch}: every target's dA and dB (sampled entries)`, () => {
      const config = tinyConfig(arch);
      const { ref } = tinyModel(config, 3);
      const r = 2;
      const host = randomAdapter(config, r, [...LORA_TARGETS], 5);
      const lora = refLora(host, r, 4);
      const ids = [1, 5, 9, 2, 30, 7];
      const { loss, grads } = refBackward(ref, lora, ids);
      expect(loss).toBeCloseTo(refForward(ref, lora, ids).loss, 12);
      let checked = 0;
      for (let l = 0; l < config.numLayers; l++)
        for (const t of LORA_TARGETS as readonly LoraTarget[])
          for (const which of ['A', 'B'] as const) {
            const param = lora.layers[l][t]![which];
            const grad = grads[l][t]![which === 'A' ? 'dA' : 'dB'];
            for (const i of [0, param.length - 1, Math.floor(param.length / 2)]) {
              const old = param[i];
              param[i] = old + H_STEP;
              const fp = refForward(ref, lora, ids).loss;
              param[i] = old - H_STEP;
              const fm = refForward(ref, lora, ids).loss;
              param[i] = old;
              const num = (fp - fm) / (2 * H_STEP);
              expect(Math.abs(num - grad[i])).toBeLessThan(1e-6 * Math.max(1e-3, Math.abs(num)) + 1e-9);
              checked++;
            }
          }
      expect(checked).toBe(2 * 7 * 2 * 3);
    });
  }

  it('an adapter with B = 0 leaves the loss exactly as without one', () => {
    const config = tinyConfig('llama');
    const { ref } = tinyModel(config, 4);
    const host = randomAdapter(config, 2, [...LORA_TARGETS], 6, 0);
    const ids = [3, 1, 4, 1, 5];
    expect(refForward(ref, refLora(host, 2, 4), ids).loss).toBe(refForward(ref, undefined, ids).loss);
  });
});
