// Float64 CPU references of every engine op, forward and backward side by side.
// Plain loops on row-major arrays; the GPU kernels are tested against these, and the
// backward functions against central finite differences of the forward ones.
// T = tokens of one sequence.

type F = Float64Array;

/** max |got − want| / max(|want|∞, tiny): a relative error over the whole tensor (the tuner and the tests). */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    num = Math.max(num, Math.abs(got[i] - want[i]));
    den = Math.max(den, Math.abs(want[i]));
  }
  return num / Math.max(den, 1e-30);
}

export function embedding(ids: ArrayLike<number>, table: F, hidden: number): F {
  const out = new Float64Array(ids.length * hidden);
  for (let t = 0; t < ids.length; t++) out.set(table.subarray(ids[t] * hidden, (ids[t] + 1) * hidden), t * hidden);
  return out;
}

/** y = x / sqrt(mean(x²) + eps) · w, per row. */
export function rmsnorm(x: F, w: F, T: number, H: number, eps: number): F {
  const y = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < H; i++) ss += x[t * H + i] ** 2;
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let i = 0; i < H; i++) y[t * H + i] = x[t * H + i] * inv * w[i];
  }
  return y;
}

/** dx of rmsnorm: inv·(g − x̂·mean(g·x̂)) with g = dy·w, x̂ = x·inv. */
export function rmsnormBackward(x: F, w: F, dy: F, T: number, H: number, eps: number): F {
  const dx = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < H; i++) ss += x[t * H + i] ** 2;
    const inv = 1 / Math.sqrt(ss / H + eps);
    let dot = 0;
    for (let i = 0; i < H; i++) dot += dy[t * H + i] * w[i] * x[t * H + i] * inv;
    for (let i = 0; i < H; i++) {
      const xh = x[t * H + i] * inv;
      dx[t * H + i] = inv * (dy[t * H + i] * w[i] - (xh * dot) / H);
    }
  }
  return dx;
}

/** y = x Wᵀ + b with W [out, in]. */
export function linear(x: F, W: F, T: number, inF: number, outF: number, bias?: F): F {
  const y = new Float64Array(T * outF);
  for (let t = 0; t < T; t++)
    for (let o = 0; o < outF; o++) {
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[t * inF + i] * W[o * inF + i];
      y[t * outF + o] = acc;
    }
  return y;
}

/** dx = dy W. */
export function linearBackward(dy: F, W: F, T: number, inF: number, outF: number): F {
  const dx = new Float64Array(T * inF);
  for (let t = 0; t < T; t++)
    for (let o = 0; o < outF; o++) {
      const g = dy[t * outF + o];
      for (let i = 0; i < inF; i++) dx[t * inF + i] += g * W[o * inF + i];
    }
  return dx;
}

function masked(x: F, mask?: F): F {
  if (!mask) return x;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * mask[i];
  return out;
}

/** scale · (x∘mask) Aᵀ Bᵀ with A [r, in], B [out, r]; mask entries are 0 or 1/(1−p). */
export function lora(x: F, A: F, B: F, T: number, inF: number, outF: number, r: number, scale: number, dropMask?: F): F {
  const xa = linear(masked(x, dropMask), A, T, inF, r);
  const y = linear(xa, B, T, r, outF);
  for (let i = 0; i < y.length; i++) y[i] *= scale;
  return y;
}

export function loraBackward(
  x: F,
  A: F,
  B: F,
  dy: F,
  T: number,
  inF: number,
  outF: number,
  r: number,
  scale: number,
  dropMask?: F,
): { dx: F; dA: F; dB: F } {
  const xd = masked(x, dropMask);
  const xa = linear(xd, A, T, inF, r); // [T, r]
  const dB = new Float64Array(outF * r);
  for (let t = 0; t < T; t++)
    for (let o = 0; o < outF; o++) for (let j = 0; j < r; j++) dB[o * r + j] += scale * dy[t * outF + o] * xa[t * r + j];
  const dxa = linearBackward(dy, B, T, r, outF); // dy B: [T, r]
  const dA = new Float64Array(r * inF);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < r; j++) for (let i = 0; i < inF; i++) dA[j * inF + i] += scale * dxa[t * r + j] * xd[t * inF + i];
  const dxd = linearBackward(dxa, A, T, inF, r);
  const dx = new Float64Array(T * inF);
  for (let i = 0; i < dx.length; i++) dx[i] = scale * dxd[i] * (dropMask ? dropMask[i] : 1);
  return { dx, dA, dB };
}

/** HF rotate_half RoPE: pairs (i, i + d/2) rotate by (pos / linearFactor)·θ^(−2i/d). */
function ropeApply(
  x: F,
  T: number,
  nHeads: number,
  headDim: number,
  theta: number,
  posOffset: number,
  sign: 1 | -1,
  linearFactor: number,
): F {
  const y = new Float64Array(x.length);
  const half = headDim / 2;
  for (let t = 0; t < T; t++)
    for (let h = 0; h < nHeads; h++) {
      const base = t * nHeads * headDim + h * headDim;
      for (let i = 0; i < half; i++) {
        const ang = ((t + posOffset) / linearFactor) * theta ** ((-2 * i) / headDim);
        const c = Math.cos(ang);
        const s = sign * Math.sin(ang);
        const a = x[base + i];
        const b = x[base + i + half];
        y[base + i] = a * c - b * s;
        y[base + i + half] = b * c + a * s;
      }
    }
  return y;
}

export function rope(x: F, T: number, nHeads: number, headDim: number, theta: number, posOffset = 0, linearFactor = 1): F {
  return ropeApply(x, T, nHeads, headDim, theta, posOffset, 1, linearFactor);
}

/** The rotation is orthogonal: its transpose is the rotation by −angle. */
export function ropeBackward(dy: F, T: number, nHeads: number, headDim: number, theta: number, posOffset = 0, linearFactor = 1): F {
  return ropeApply(dy, T, nHeads, headDim, theta, posOffset, -1, linearFactor);
}

/** Causal softmax(q kᵀ/√d) v per head; head h reads kv head ⌊h / (nHeads/nKvHeads)⌋. */
function attentionProbs(q: F, k: F, T: number, nHeads: number, nKvHeads: number, headDim: number): F {
  const group = nHeads / nKvHeads;
  const P = new Float64Array(nHeads * T * T);
  const scale = 1 / Math.sqrt(headDim);
  for (let h = 0; h < nHeads; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      const row = (h * T + i) * T;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let d = 0; d < headDim; d++) s += q[i * nHeads * headDim + h * headDim + d] * k[j * nKvHeads * headDim + kh * headDim + d];
        P[row + j] = s * scale;
        max = Math.max(max, P[row + j]);
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += P[row + j] = Math.exp(P[row + j] - max);
      for (let j = 0; j <= i; j++) P[row + j] /= sum;
    }
  }
  return P;
}

export function attention(q: F, k: F, v: F, T: number, nHeads: number, nKvHeads: number, headDim: number): F {
  const P = attentionProbs(q, k, T, nHeads, nKvHeads, headDim);
  const group = nHeads / nKvHeads;
  const out = new Float64Array(T * nHeads * headDim);
  for (let h = 0; h < nHeads; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < T; i++)
      for (let j = 0; j <= i; j++) {
        const p = P[(h * T + i) * T + j];
        for (let d = 0; d < headDim; d++) out[i * nHeads * headDim + h * headDim + d] += p * v[j * nKvHeads * headDim + kh * headDim + d];
      }
  }
  return out;
}

export function attentionBackward(
  q: F,
  k: F,
  v: F,
  dout: F,
  T: number,
  nHeads: number,
  nKvHeads: number,
  headDim: number,
): { dq: F; dk: F; dv: F } {
  const P = attentionProbs(q, k, T, nHeads, nKvHeads, headDim);
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const qs = nHeads * headDim;
  const ks = nKvHeads * headDim;
  for (let h = 0; h < nHeads; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < T; i++) {
      const row = (h * T + i) * T;
      const dP = new Float64Array(i + 1);
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let d = 0; d < headDim; d++) {
          s += dout[i * qs + h * headDim + d] * v[j * ks + kh * headDim + d];
          dv[j * ks + kh * headDim + d] += P[row + j] * dout[i * qs + h * headDim + d];
        }
        dP[j] = s;
      }
      let dot = 0;
      for (let j = 0; j <= i; j++) dot += P[row + j] * dP[j];
      for (let j = 0; j <= i; j++) {
        const dS = P[row + j] * (dP[j] - dot) * scale;
        for (let d = 0; d < headDim; d++) {
          dq[i * qs + h * headDim + d] += dS * k[j * ks + kh * headDim + d];
          dk[j * ks + kh * headDim + d] += dS * q[i * qs + h * headDim + d];
        }
      }
    }
  }
  return { dq, dk, dv };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function siluGate(gate: F, up: F): F {
  const h = new Float64Array(gate.length);
  for (let i = 0; i < h.length; i++) h[i] = gate[i] * sigmoid(gate[i]) * up[i];
  return h;
}

export function siluGateBackward(gate: F, up: F, dh: F): { dgate: F; dup: F } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const s = sigmoid(gate[i]);
    dup[i] = dh[i] * gate[i] * s;
    dgate[i] = dh[i] * up[i] * s * (1 + gate[i] * (1 - s));
  }
  return { dgate, dup };
}

/** log Σ exp of row t of logits [T, V]. */
function logSumExp(logits: F, t: number, V: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
  let se = 0;
  for (let v = 0; v < V; v++) se += Math.exp(logits[t * V + v] - max);
  return max + Math.log(se);
}

/** Per-token −log softmax(x Wᵀ)[target]; target −1 is masked (loss 0, not counted). */
export function crossEntropyLmHead(
  x: F,
  W: F,
  targets: ArrayLike<number>,
  T: number,
  H: number,
  V: number,
): { losses: F; loss: number; count: number } {
  const logits = linear(x, W, T, H, V);
  const losses = new Float64Array(T);
  let sum = 0;
  let count = 0;
  for (let t = 0; t < T; t++) {
    if (targets[t] < 0) continue;
    losses[t] = logSumExp(logits, t, V) - logits[t * V + targets[t]];
    sum += losses[t];
    count++;
  }
  return { losses, loss: count ? sum / count : 0, count };
}

/** dx of gradScale · Σ unmasked token losses (gradScale = 1/count for the mean). */
export function crossEntropyLmHeadBackward(x: F, W: F, targets: ArrayLike<number>, T: number, H: number, V: number, gradScale: number): F {
  const logits = linear(x, W, T, H, V);
  const dlogits = new Float64Array(T * V);
  for (let t = 0; t < T; t++) {
    if (targets[t] < 0) continue;
    const lse = logSumExp(logits, t, V);
    for (let v = 0; v < V; v++) dlogits[t * V + v] = gradScale * Math.exp(logits[t * V + v] - lse);
    dlogits[t * V + targets[t]] -= gradScale;
  }
  return linearBackward(dlogits, W, T, H, V);
}

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** PyTorch AdamW, in place: p −= lr·wd·p; bias-corrected moments; step is 1-based. */
export function adamw(param: F, grad: F, m: F, v: F, step: number, o: AdamWOptions): void {
  const bc1 = 1 - o.beta1 ** step;
  const bc2 = 1 - o.beta2 ** step;
  for (let i = 0; i < param.length; i++) {
    param[i] -= o.lr * o.weightDecay * param[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * grad[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * grad[i] * grad[i];
    param[i] -= (o.lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + o.eps);
  }
}

export function globalGradNorm(grads: F[]): number {
  let s = 0;
  for (const g of grads) for (const x of g) s += x * x;
  return Math.sqrt(s);
}

export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
}
