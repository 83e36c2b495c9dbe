// `npm run bench`: engine speed and memory on whatever WebGPU adapter Dawn finds.
// Prints a table and rewrites docs/BENCHMARKS.md's "latest run" section with the adapter
// named. On software adapters absolute numbers mean little: compare rows of one run.
import { writeFile, readFile } from 'node:fs/promises';
import { nodeGpuDevice } from '../src/cli/dawn.ts';
import { KernelRunner } from '../src/gpu/kernel.ts';
import { uploadWeight } from '../src/gpu/weights.ts';
import { LINEAR_DX_VERSIONS, LINEAR_VERSIONS, linearBackwardInput, linearForward } from '../src/gpu/kernels/linear.ts';
import type { KernelVersion } from '../src/gpu/kernel-versions.ts';
import { applyKernels, parseKernelsOption } from '../src/cli/kernels-option.ts';
import { attentionBackward, attentionForward } from '../src/gpu/kernels/attention.ts';
import { GpuLora, initHostAdapter } from '../src/gpu/lora.ts';
import { Transformer } from '../src/gpu/transformer.ts';
import { LoraTrainer, DEFAULT_OPTIMIZER } from '../src/gpu/trainer.ts';
import { benchDecode, decodeSummary } from './decode.ts';
import { BENCH_FIXTURE, BENCH_LORA, benchModel } from './fixture.ts';
import { GEMV_VERSIONS, gemvForward } from '../src/gpu/kernels/gemv.ts';

// --real-size [--model NAME]: the engine at a real model's shapes instead (bench/real-size.ts).
if (process.argv.includes('--real-size')) {
  const { realSizeMain } = await import('./real-size.ts');
  await realSizeMain(process.argv);
  process.exit(0);
}
const ctx = await nodeGpuDevice();
const { device, info } = ctx;
const runner = new KernelRunner(device);
const software = info.software;
const quick = process.argv.includes('--quick');
// --kernels NAME forces a family for the training and decoding rows (the per-version rows run every version).
const kernelsAt = process.argv.indexOf('--kernels');
const kernelsArg =
  kernelsAt > 0 ? process.argv[kernelsAt + 1] : process.argv.find((a) => a.startsWith('--kernels='))?.slice('--kernels='.length);
const forced = parseKernelsOption(kernelsArg);
await applyKernels(runner, info, forced);
const rows: string[][] = [];
/** Per-version rows: [model, op, version, shape, MFLOP, MB, ms, GFLOP/s, GB/s]. */
const versionRows: string[][] = [];

async function time(fn: (pass: GPUComputePassEncoder) => void, reps: number): Promise<number> {
  await runner.run(fn); // warm-up: pipeline compilation
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await runner.run(fn);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const MODELS = [
  { name: 'Qwen2.5-Coder-0.5B', hidden: 896, inter: 4864, heads: 14, kv: 2, hd: 64 },
  { name: 'Qwen2.5-Coder-1.5B', hidden: 1536, inter: 8960, heads: 12, kv: 2, hd: 128 },
];
const prefillT = software ? 64 : 512;
const reps = software || quick ? 3 : 10;

for (const m of MODELS) {
  for (const [label, inF, outF] of [
    ['mlp up', m.hidden, m.inter],
    ['mlp down', m.inter, m.hidden],
  ] as const) {
    const data = new Uint16Array(inF * outF).map((_, i) => 0x3c00 + (i % 64));
    const W = uploadWeight(device, { name: label, shape: [outF, inF], dtype: 'bf16', data }, device.limits.maxStorageBufferBindingSize);
    for (const [phase, T] of [
      ['prefill', prefillT],
      ['decode', 1],
    ] as const) {
      const x = device.createBuffer({ size: T * inF * 4, usage: GPUBufferUsage.STORAGE });
      const y = device.createBuffer({ size: T * outF * 4, usage: GPUBufferUsage.STORAGE });
      const ms = await time((pass) => linearForward(runner, pass, x, W, undefined, y, T), reps);
      rows.push([m.name, `${label} ${phase}`, `${T}×${inF}→${outF}`, ms.toFixed(2), ((2 * T * inF * outF) / ms / 1e6).toFixed(2)]);
      if (phase === 'decode') {
        const msg = await time((pass) => gemvForward(runner, pass, x, W, undefined, y), reps);
        rows.push([m.name, `${label} decode (GEMV kernel)`, `1×${inF}→${outF}`, msg.toFixed(2), ((2 * inF * outF) / msg / 1e6).toFixed(2)]);
      }
      if (phase === 'prefill') {
        const msb = await time((pass) => linearBackwardInput(runner, pass, y, W, x, T, false), reps);
        rows.push([m.name, `${label} backward dx`, `${T}×${outF}→${inF}`, msb.toFixed(2), ((2 * T * inF * outF) / msb / 1e6).toFixed(2)]);
      }
      // Every version this adapter runs, at this shape (one chunk: the whole matrix fits one binding here).
      const band = { buffer: W.chunks[0].buffer, bufferRow: 0, rows: outF };
      const flops = 2 * T * inF * outF;
      const bytes = inF * outF * 2 + T * (inF + outF) * 4; // weights once, activations in and out
      const perVersion = async <A>(op: string, shape: string, versions: readonly KernelVersion<A>[], args: A) => {
        for (const v of versions) {
          if (!runner.kernels.available(v) || !v.supports(args)) continue;
          const ms = await time((pass) => v.record(runner, pass, args), reps);
          versionRows.push([
            m.name,
            `${label} ${op}`,
            v.name,
            shape,
            (flops / 1e6).toFixed(1),
            (bytes / 1e6).toFixed(2),
            ms.toFixed(2),
            (flops / ms / 1e6).toFixed(2),
            (bytes / ms / 1e6).toFixed(2),
          ]);
        }
      };
      if (phase === 'prefill') {
        await perVersion('forward', `${T}×${inF}→${outF}`, LINEAR_VERSIONS, {
          x,
          W,
          band,
          y,
          yStride: outF,
          yCol0: 0,
          T,
          accumulate: false,
        });
        await perVersion('dx', `${T}×${outF}→${inF}`, LINEAR_DX_VERSIONS, {
          dy: y,
          dyStride: outF,
          dyCol0: 0,
          W,
          band,
          dx: x,
          T,
          accumulate: false,
        });
      } else {
        await perVersion('decode', `1×${inF}→${outF}`, GEMV_VERSIONS, { x, W, chunk: W.chunks[0], y, accumulate: false, xRow: 0 });
      }
      x.destroy();
      y.destroy();
    }
    for (const c of W.chunks) c.buffer.destroy();
  }
  const T = software ? 128 : 1024;
  const buf = (n: number) => device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE });
  const [q, k, v, o, lse, dq, dk, dv, dl] = [
    T * m.heads * m.hd,
    T * m.kv * m.hd,
    T * m.kv * m.hd,
    T * m.heads * m.hd,
    m.heads * T,
    T * m.heads * m.hd,
    T * m.kv * m.hd,
    T * m.kv * m.hd,
    m.heads * T,
  ].map(buf);
  const flops = 2 * 2 * m.heads * m.hd * ((T * (T + 1)) / 2);
  const af = await time((pass) => attentionForward(runner, pass, q, k, v, o, lse, T, m.heads, m.kv, m.hd), reps);
  rows.push([m.name, 'attention forward', `T=${T}`, af.toFixed(2), (flops / af / 1e6).toFixed(2)]);
  const ab = await time((pass) => attentionBackward(runner, pass, q, k, v, o, lse, o, dq, dk, dv, dl, T, m.heads, m.kv, m.hd), reps);
  rows.push([m.name, 'attention backward', `T=${T}`, ab.toFixed(2), ((2.5 * flops) / ab / 1e6).toFixed(2)]);
  for (const b of [q, k, v, o, lse, dq, dk, dv, dl]) b.destroy();
}

// Training throughput and memory on a fixture model.
const fixture = BENCH_FIXTURE;
const { config, memory, model } = await benchModel(device);
const lora = BENCH_LORA;
const seqLen = software ? 128 : 512;
const ids = Array.from({ length: seqLen }, (_, i) => (i * 37) % config.vocabSize);
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

let dispatchesPerStep = 0;
let bindGroupsPerStep = 0;
/** ms per training step and the GPU memory it allocated, in normal or low memory mode. */
async function benchTraining(lowMemory: boolean): Promise<{ stepMs: number; line: string }> {
  const adapter = new GpuLora(memory, lora, initHostAdapter(config, lora, 1), { trainable: true });
  const tf = new Transformer(runner, memory, model, adapter, { seqLen, lowMemory });
  const trainer = new LoraTrainer(runner, memory, tf, adapter);
  await trainer.trainStep([{ ids }], DEFAULT_OPTIMIZER);
  const [d0, b0] = [runner.dispatches, runner.bindGroupsCreated];
  await trainer.trainStep([{ ids }], DEFAULT_OPTIMIZER);
  dispatchesPerStep = runner.dispatches - d0;
  bindGroupsPerStep = runner.bindGroupsCreated - b0;
  const steps = software ? 3 : 10;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await trainer.trainStep([{ ids }], DEFAULT_OPTIMIZER);
  const stepMs = (performance.now() - t0) / steps;
  const mem = memory.report();
  const line =
    `${lowMemory ? 'low memory mode' : 'normal mode'}: ${stepMs.toFixed(0)} ms/step, ${((seqLen / stepMs) * 1000).toFixed(0)} tokens/s; ` +
    `GPU memory ${mib(mem.total)} MiB (weights ${mib(mem.weights)}, LoRA ${mib(mem.lora)}, optimizer+grads ${mib(mem.optimizer)}, ` +
    `activations ${mib(mem.activations)}, scratch ${mib(mem.scratch)})`;
  tf.destroy();
  adapter.destroy();
  return { stepMs, line };
}
const normal = await benchTraining(false);
const normalDispatches = dispatchesPerStep;
const normalBindGroups = bindGroupsPerStep;
const low = await benchTraining(true);
const trainLine =
  `fixture model ${fixture.layers} layers, hidden ${fixture.hidden}, vocab ${config.vocabSize}, LoRA r=16 on all 7 modules, seq_len ${seqLen}; ` +
  `${normal.line}; ${low.line} (${(low.stepMs / normal.stepMs).toFixed(2)}× the step time, measured in this run). ` +
  `Dispatches per step of one micro-batch (forward, backward with recompute, AdamW): ${normalDispatches} in normal mode, ${dispatchesPerStep} in low memory mode; ` +
  `bind groups created in a second step: ${normalBindGroups} and ${bindGroupsPerStep} (before the bind group cache: one per dispatch), ` +
  `kernel parameters in one uniform buffer at dynamic offsets (before: a new uniform buffer per dispatch)`;
memory.destroyAll();

const decodeLine = decodeSummary(
  await benchDecode(device, {
    promptTokens: software ? 128 : 512,
    newTokens: 64,
    reps: software || quick ? 3 : 10,
    kernels: runner.kernels,
  }),
);

const adapterName = `${info.vendor} ${info.architecture} — ${info.description}${software ? ' (software adapter)' : ''}`;
const base = Number(rows[0][4]);
const table = [
  '| model | kernel | shape | ms (median) | GFLOP/s | vs first row |',
  '| --- | --- | --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.join(' | ')} | ${(Number(r[4]) / base).toFixed(2)}× |`),
].join('\n');
const versionTable = [
  '| model | operation | version | shape | MFLOP | MB moved | ms (median) | GFLOP/s | GB/s | speed vs register |',
  '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...versionRows.map((r) => {
    const first = versionRows.find((x) => x[0] === r[0] && x[1] === r[1])!;
    return `| ${r.join(' | ')} | ${(Number(first[6]) / Number(r[6])).toFixed(2)}× |`;
  }),
].join('\n');
const section = `## Latest run (${new Date().toISOString().slice(0, 10)})

Adapter: **${adapterName}** (Node ${process.version}, Dawn through the \`webgpu\` package).

${table}

Every kernel version this adapter runs, at the same shapes (weights read once, activations in and out: the least
bytes a version can move; GB/s = those bytes ÷ time)${forced ? `; training and decoding below forced to --kernels=${forced}` : ''}:

${versionTable}

Training: ${trainLine}.

${decodeLine}
`;
console.log(section);
const path = new URL('../docs/BENCHMARKS.md', import.meta.url);
const doc = await readFile(path, 'utf8').catch(() => '');
const marker = '<!-- bench:latest -->';
const [head] = doc.split(marker);
await writeFile(path, `${head.trimEnd() || '# Benchmarks'}\n\n${marker}\n${section}`);
device.destroy();
