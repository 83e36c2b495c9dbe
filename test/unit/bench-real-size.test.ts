// What `npm run bench -- --real-size` adds, checked without a GPU: the hand-written ONNX
// MatMul model runs in onnxruntime-web (its WebAssembly CPU backend) and gives x·W; the
// training FLOP count matches Qwen2.5-Coder-0.5B's published size; the real-size section
// replaces only itself in docs/BENCHMARKS.md.
import { expect, it } from 'vitest';
import { matMulModel } from '../../bench/onnx-matmul.ts';
import { loraStepFlops, matmulParams, withSection } from '../../bench/real-size.ts';
import { loadConfig } from '../../src/cli/commands/make-tiny-model.ts';

it('the ONNX MatMul model computes x·W in onnxruntime-web', async () => {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const [M, K, N] = [3, 5, 7];
  const W = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i));
  const x = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i));
  const session = await ort.InferenceSession.create(matMulModel(M, K, N, W), { executionProviders: ['wasm'] });
  const y = (await session.run({ x: new ort.Tensor('float32', x, [M, K]) })).y;
  expect(y.dims).toEqual([M, N]);
  const want = new Float32Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) want[m * N + n] += x[m * K + k] * W[k * N + n];
  const got = y.data as Float32Array;
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
  await session.release();
  expect(() => matMulModel(2, 2, 2, new Float32Array(3))).toThrow(/not K·N/);
});

it('counts a LoRA step of Qwen2.5-Coder-0.5B as 4·N·T plus attention', async () => {
  const c = await loadConfig('Qwen2.5-Coder-0.5B');
  // 494,032,768 parameters, less the norms and q/k/v biases (not matrix products); the tied head counted once.
  expect(matmulParams(c)).toBe(493961216);
  expect(loraStepFlops(c, 1024)).toBe(4 * 493961216 * 1024 + 6 * 24 * 14 * 64 * 1024 * 1024);
});

it('replaces only the real-size section of the benchmarks page', () => {
  const doc = '# Benchmarks\n\nintro\n\n<!-- bench:latest -->\n## Latest run\n';
  const once = withSection(doc, '## Real size: A\n');
  expect(once).toBe(
    '# Benchmarks\n\nintro\n\n<!-- bench:real-size -->\n## Real size: A\n<!-- bench:real-size -->\n\n<!-- bench:latest -->\n## Latest run\n',
  );
  const twice = withSection(once, '## Real size: B\n');
  expect(twice).toBe(once.replace('Real size: A', 'Real size: B'));
});
