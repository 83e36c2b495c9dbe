// Deterministic random weights for a config, in the HF tensor layout: the fixture
// generator's weights and the tests' tiny models. Scales keep activations O(1), so
// logits are far from uniform and gradients are informative.
import type { HostTensor, ModelConfig, WeightDtype } from './types.ts';
import { expectedTensors } from './layout.ts';
import { Rng } from '../random.ts';
import { floatToBf16, floatToF16 } from './dtype.ts';

export function randomTensors(c: ModelConfig, seed: number, dtype: WeightDtype = 'bf16'): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const round = dtype === 'bf16' ? floatToBf16 : floatToF16;
  const out = new Map<string, HostTensor>();
  for (const spec of expectedTensors(c)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Uint16Array(n);
    // Embeddings/LM head: std 2/√hidden, so normalised states give logits of std ≈ 2 (an
    // initial loss near log(vocab), as in a real model); projections: std 1/√fan_in.
    const std = spec.kind === 'norm' || spec.kind === 'bias' ? 0.1 : 2 / Math.sqrt(spec.shape[1]);
    for (let i = 0; i < n; i++) data[i] = round((spec.kind === 'norm' ? 1 : 0) + std * rng.normal());
    out.set(spec.name, { name: spec.name, shape: spec.shape, dtype, data });
  }
  return out;
}
