import { loadNodeEngine } from '/work/wt-completions/src/cli/engine.ts';
import { Decoder } from '/work/wt-completions/src/gpu/decoder.ts';
const e = await loadNodeEngine('/tmp/tm');
for (const ctx of [64, 4096]) {
  const d = new Decoder(e.memory, e.model, { contextLength: ctx });
  let t = performance.now();
  await d.prefill([1,2,3,4,5]);
  console.log(ctx, 'prefill', performance.now() - t);
  t = performance.now();
  await d.step(7);
  console.log(ctx, 'step', performance.now() - t);
  t = performance.now();
  await d.step(8);
  console.log(ctx, 'step2', performance.now() - t);
}
e.close();
