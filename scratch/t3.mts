import { nodeGpuDevice } from '/work/wt-completions/src/cli/dawn.ts';
import { uploadModel } from '/work/wt-completions/src/gpu/model.ts';
import { GpuMemory } from '/work/wt-completions/src/gpu/memory.ts';
import { Decoder } from '/work/wt-completions/src/gpu/decoder.ts';
import { randomTensors } from '/work/wt-completions/src/model/random-weights.ts';
import { tinyModelConfig, TINY_DEFAULTS } from '/work/wt-completions/src/model/tiny-model.ts';
const { device } = await nodeGpuDevice();
const config = tinyModelConfig({ ...TINY_DEFAULTS, layers: 4, hidden: 256, heads: 4, kvHeads: 2, intermediate: 704 }, 1024, 0);
const t = randomTensors(config, 1);
const memory = new GpuMemory(device);
const model = await uploadModel(memory, config, async (n) => t.get(n)!);
const d = new Decoder(memory, model, { contextLength: 600 });
for (const P of [8, 128, 512]) {
  d.reset();
  const prompt = Array.from({ length: P }, (_, i) => i % 1000);
  let t0 = performance.now();
  await d.prefill(prompt);
  const pre = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < 20; i++) await d.step(5);
  console.log(P, 'prefill', pre.toFixed(0), 'step ms', ((performance.now() - t0) / 20).toFixed(1));
}
