// Float64 reference of the whole Llama-family model with LoRA, composed from ops.ts:
// forward to logits and loss, and the analytic backward to every LoRA A and B.
// The GPU transformer is tested against this, and this against finite differences.
import type { LoraTarget, ModelConfig } from '../../model/types.ts';
import * as op from './ops.ts';

type F = Float64Array;

export interface RefLinear {
  W: F;
  b?: F;
}

export interface RefLayer {
  inputNorm: F;
  postNorm: F;
  q: RefLinear;
  k: RefLinear;
  v: RefLinear;
  o: RefLinear;
  gate: RefLinear;
  up: RefLinear;
  down: RefLinear;
}

export interface RefWeights {
  config: ModelConfig;
  embed: F;
  lmHead: F;
  finalNorm: F;
  layers: RefLayer[];
}

export interface RefLora {
  scale: number;
  r: number;
  layers: Array<Partial<Record<LoraTarget, { A: F; B: F }>>>;
}

export type RefLoraGrads = Array<Partial<Record<LoraTarget, { dA: F; dB: F }>>>;

/** Builds RefWeights from HF tensor names (values already widened to float64). */
export function refWeightsFromTensors(config: ModelConfig, get: (name: string) => F): RefWeights {
  const lin = (p: string, bias: boolean): RefLinear => ({ W: get(`${p}.weight`), b: bias ? get(`${p}.bias`) : undefined });
  const layers: RefLayer[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`),
      postNorm: get(`${p}.post_attention_layernorm.weight`),
      q: lin(`${p}.self_attn.q_proj`, config.attentionBias),
      k: lin(`${p}.self_attn.k_proj`, config.attentionBias),
      v: lin(`${p}.self_attn.v_proj`, config.attentionBias),
      o: lin(`${p}.self_attn.o_proj`, false),
      gate: lin(`${p}.mlp.gate_proj`, false),
      up: lin(`${p}.mlp.up_proj`, false),
      down: lin(`${p}.mlp.down_proj`, false),
    });
  }
  const embed = get('model.embed_tokens.weight');
  return { config, embed, lmHead: config.tieWordEmbeddings ? embed : get('lm_head.weight'), finalNorm: get('model.norm.weight'), layers };
}

export function defaultTargets(ids: ArrayLike<number>): number[] {
  return Array.from({ length: ids.length }, (_, t) => (t + 1 < ids.length ? ids[t + 1] : -1));
}

function add(a: F, b: F): F {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

interface Dims {
  T: number;
  H: number;
  I: number;
  qd: number;
  kvd: number;
}

function dims(c: ModelConfig, T: number): Dims {
  return { T, H: c.hiddenSize, I: c.intermediateSize, qd: c.numHeads * c.headDim, kvd: c.numKvHeads * c.headDim };
}

/** Everything one layer's forward computes (backward needs it). */
interface LayerActs {
  x: F;
  xn: F;
  q: F; // after RoPE
  k: F;
  v: F;
  attn: F;
  h: F;
  xn2: F;
  gate: F;
  up: F;
  act: F;
  out: F;
}

function proj(x: F, lin: RefLinear, lora: { A: F; B: F } | undefined, scale: number, r: number, T: number, inF: number, outF: number): F {
  const y = op.linear(x, lin.W, T, inF, outF, lin.b);
  return lora ? add(y, op.lora(x, lora.A, lora.B, T, inF, outF, r, scale)) : y;
}

function layerForward(w: RefWeights, lora: RefLora | undefined, l: number, x: F, d: Dims): LayerActs {
  const c = w.config;
  const L = w.layers[l];
  const lo = lora?.layers[l] ?? {};
  const s = lora?.scale ?? 0;
  const r = lora?.r ?? 0;
  const xn = op.rmsnorm(x, L.inputNorm, d.T, d.H, c.rmsNormEps);
  const q = op.rope(proj(xn, L.q, lo.q_proj, s, r, d.T, d.H, d.qd), d.T, c.numHeads, c.headDim, c.ropeTheta, 0, c.ropeLinearFactor);
  const k = op.rope(proj(xn, L.k, lo.k_proj, s, r, d.T, d.H, d.kvd), d.T, c.numKvHeads, c.headDim, c.ropeTheta, 0, c.ropeLinearFactor);
  const v = proj(xn, L.v, lo.v_proj, s, r, d.T, d.H, d.kvd);
  const attn = op.attention(q, k, v, d.T, c.numHeads, c.numKvHeads, c.headDim);
  const h = add(x, proj(attn, L.o, lo.o_proj, s, r, d.T, d.qd, d.H));
  const xn2 = op.rmsnorm(h, L.postNorm, d.T, d.H, c.rmsNormEps);
  const gate = proj(xn2, L.gate, lo.gate_proj, s, r, d.T, d.H, d.I);
  const up = proj(xn2, L.up, lo.up_proj, s, r, d.T, d.H, d.I);
  const act = op.siluGate(gate, up);
  const out = add(h, proj(act, L.down, lo.down_proj, s, r, d.T, d.I, d.H));
  return { x, xn, q, k, v, attn, h, xn2, gate, up, act, out };
}

export interface RefForward {
  loss: number;
  losses: F;
  count: number;
  /** [T, V], when asked for. */
  logits?: F;
}

export function refForward(
  w: RefWeights,
  lora: RefLora | undefined,
  ids: number[],
  targets = defaultTargets(ids),
  opts: { logits?: boolean } = {},
): RefForward {
  const c = w.config;
  const d = dims(c, ids.length);
  let x = op.embedding(ids, w.embed, d.H);
  for (let l = 0; l < c.numLayers; l++) x = layerForward(w, lora, l, x, d).out;
  const xf = op.rmsnorm(x, w.finalNorm, d.T, d.H, c.rmsNormEps);
  const ce = op.crossEntropyLmHead(xf, w.lmHead, targets, d.T, d.H, c.vocabSize);
  return { ...ce, logits: opts.logits ? op.linear(xf, w.lmHead, d.T, d.H, c.vocabSize) : undefined };
}

/** Gradient of `proj` for its input (frozen path + LoRA) and its LoRA parameters. */
function projBackward(
  x: F,
  dy: F,
  lin: RefLinear,
  lora: { A: F; B: F } | undefined,
  scale: number,
  r: number,
  T: number,
  inF: number,
  outF: number,
  grads: { dA: F; dB: F } | undefined,
): F {
  const dx = op.linearBackward(dy, lin.W, T, inF, outF);
  if (!lora || !grads) return dx;
  const g = op.loraBackward(x, lora.A, lora.B, dy, T, inF, outF, r, scale);
  grads.dA.set(add(grads.dA, g.dA));
  grads.dB.set(add(grads.dB, g.dB));
  return add(dx, g.dx);
}

/** Loss and the gradient of the mean loss with respect to every LoRA A and B. */
export function refBackward(
  w: RefWeights,
  lora: RefLora,
  ids: number[],
  targets = defaultTargets(ids),
): { loss: number; grads: RefLoraGrads } {
  const c = w.config;
  const d = dims(c, ids.length);
  const s = lora.scale;
  const r = lora.r;
  const grads: RefLoraGrads = lora.layers.map((layer) => {
    const g: Partial<Record<LoraTarget, { dA: F; dB: F }>> = {};
    for (const [t, p] of Object.entries(layer) as Array<[LoraTarget, { A: F; B: F }]>)
      g[t] = { dA: new Float64Array(p.A.length), dB: new Float64Array(p.B.length) };
    return g;
  });
  const inputs: F[] = [op.embedding(ids, w.embed, d.H)];
  for (let l = 0; l < c.numLayers; l++) inputs.push(layerForward(w, lora, l, inputs[l], d).out);
  const xL = inputs[c.numLayers];
  const xf = op.rmsnorm(xL, w.finalNorm, d.T, d.H, c.rmsNormEps);
  const ce = op.crossEntropyLmHead(xf, w.lmHead, targets, d.T, d.H, c.vocabSize);
  let dx = op.rmsnormBackward(
    xL,
    w.finalNorm,
    op.crossEntropyLmHeadBackward(xf, w.lmHead, targets, d.T, d.H, c.vocabSize, 1 / ce.count),
    d.T,
    d.H,
    c.rmsNormEps,
  );
  for (let l = c.numLayers - 1; l >= 0; l--) {
    const a = layerForward(w, lora, l, inputs[l], d); // recompute, as the GPU does
    const L = w.layers[l];
    const lo = lora.layers[l];
    const g = grads[l];
    const dAct = projBackward(a.act, dx, L.down, lo.down_proj, s, r, d.T, d.I, d.H, g.down_proj);
    const { dgate, dup } = op.siluGateBackward(a.gate, a.up, dAct);
    const dxn2 = add(
      projBackward(a.xn2, dgate, L.gate, lo.gate_proj, s, r, d.T, d.H, d.I, g.gate_proj),
      projBackward(a.xn2, dup, L.up, lo.up_proj, s, r, d.T, d.H, d.I, g.up_proj),
    );
    const dh = add(dx, op.rmsnormBackward(a.h, L.postNorm, dxn2, d.T, d.H, c.rmsNormEps));
    const dAttn = projBackward(a.attn, dh, L.o, lo.o_proj, s, r, d.T, d.qd, d.H, g.o_proj);
    const ga = op.attentionBackward(a.q, a.k, a.v, dAttn, d.T, c.numHeads, c.numKvHeads, c.headDim);
    const dq = op.ropeBackward(ga.dq, d.T, c.numHeads, c.headDim, c.ropeTheta, 0, c.ropeLinearFactor);
    const dk = op.ropeBackward(ga.dk, d.T, c.numKvHeads, c.headDim, c.ropeTheta, 0, c.ropeLinearFactor);
    let dxn = projBackward(a.xn, dq, L.q, lo.q_proj, s, r, d.T, d.H, d.qd, g.q_proj);
    dxn = add(dxn, projBackward(a.xn, dk, L.k, lo.k_proj, s, r, d.T, d.H, d.kvd, g.k_proj));
    dxn = add(dxn, projBackward(a.xn, ga.dv, L.v, lo.v_proj, s, r, d.T, d.H, d.kvd, g.v_proj));
    dx = add(dh, op.rmsnormBackward(a.x, L.inputNorm, dxn, d.T, d.H, c.rmsNormEps));
  }
  return { loss: ce.loss, grads };
}
