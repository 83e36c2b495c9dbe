// `npm run bench -- --real-size [--model NAME] [--tokens N] [--kernels NAME]`: the engine at a
// real model's shapes (a random-weight model from `make-tiny-model --config`, cached in the
// temp folder): every kernel version at those shapes against the adapter's measured peaks,
// onnxruntime-web's MatMul as the peer, a full LoRA training step, and decoding. Rewrites
// the "real size" section of docs/BENCHMARKS.md.
import { access, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, tokenizerForConfig, writeTinyModel } from '../src/cli/commands/make-tiny-model.ts';
import { loadNodeModel } from '../src/cli/open-model.ts';
import { parseKernelsOption } from '../src/cli/kernels-option.ts';
import { planTinyModel } from '../src/model/fixtures/tiny-model.ts';
import type { ModelConfig } from '../src/model/types.ts';
import { KernelRunner } from '../src/gpu/kernel.ts';
import { modelTuneCases, tuneKernels, type TuneCase } from '../src/gpu/tuner.ts';
import { kvCacheType } from '../src/gpu/decoder.ts';
import { LINEAR_VERSIONS, type LinearArgs } from '../src/gpu/kernels/linear.ts';
import { GEMV_VERSIONS, type GemvArgs } from '../src/gpu/kernels/gemv.ts';
import type { KernelVersion } from '../src/gpu/kernel-versions.ts';
import { readFloat32 } from '../src/gpu/buffers.ts';
import { GpuLora, initHostAdapter } from '../src/gpu/lora.ts';
import { Transformer } from '../src/gpu/transformer.ts';
import { DEFAULT_OPTIMIZER, LoraTrainer } from '../src/gpu/trainer.ts';
import { benchDecode, decodeSummary } from './decode.ts';
import { BENCH_LORA } from './fixture.ts';
import { measurePeaks } from './peak.ts';
import { ortMatMulMs, ortVersion } from './peer-ort.ts';
import { nodeGpu } from '../src/cli/dawn.ts';
import { UsageError } from '../src/errors.ts';

const log = (s: string) => process.stderr.write(`[real-size] ${s}\n`);
const arg = (argv: string[], name: string) => {
  const i = argv.indexOf(name);
  return i > 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};

/** The random-weight model with NAME's shapes, made once and kept in the temp folder. */
export async function realSizeModel(name: string, layers?: number): Promise<string> {
  const dir = join(tmpdir(), 'homecoder-bench', layers ? `${name}-${layers}-layers` : name);
  if (
    await access(join(dir, 'config.json')).then(
      () => true,
      () => false,
    )
  )
    return dir;
  const full = await loadConfig(name);
  const config = { ...full, numLayers: layers ?? full.numLayers };
  log(`writing a random-weight ${name} to ${dir} (once; later runs reuse it)`);
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await writeTinyModel(planTinyModel({ fromConfig: config, tokenizer: await tokenizerForConfig(config) }), partial);
  await rename(partial, dir);
  return dir;
}

/** Parameters in matrix products per token: every projection of every layer and the LM head. */
export function matmulParams(c: ModelConfig): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const perLayer = c.hiddenSize * (q + 2 * kv) + q * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize;
  return c.numLayers * perLayer + c.vocabSize * c.hiddenSize;
}

/** Model FLOPs of one LoRA training step of T tokens: 4·N·T (forward, input gradients; the
 *  frozen weights get no gradient) + causal attention 6·L·heads·d·T² (2 forward, 4 backward). */
export function loraStepFlops(c: ModelConfig, T: number): number {
  return 4 * matmulParams(c) * T + 6 * c.numLayers * c.numHeads * c.headDim * T * T;
}

/** The least bytes a call moves: 16-bit weights once, f32 activations in and out. */
function caseBytes(c: TuneCase, kvBytes: number): number | undefined {
  const { T, K, N } = c.shape;
  if (c.op === 'linear' || c.op === 'linear-dx') return K * N * 2 + T * (K + N) * 4;
  if (c.op === 'gemv') return K * N * 2 + (K + N) * 4;
  if (c.op === 'attention' && c.heads) {
    // forward: q, k, v, out, lse; backward: q, k, v, out, dout, lse read, dq, dk, dv, delta written (and delta read).
    const { nHeads, nKv } = c.heads;
    return 4 * (6 * T * nHeads * K + 6 * T * nKv * K + 4 * nHeads * T);
  }
  // Cached attention: the K and V rows of T cached positions (`kvBytes` per element), q in, out.
  if (c.op === 'attention-cached' && c.heads) return 2 * T * c.heads.nKv * K * kvBytes + 2 * c.heads.nHeads * K * 4;
  return undefined;
}

function shapeText(c: TuneCase): string {
  const { T, K, N } = c.shape;
  if (c.op === 'attention' && c.heads) return `T=${T}, ${c.heads.nHeads} heads / ${c.heads.nKv} kv, d=${K}`;
  if (c.op === 'attention-cached' && c.heads) return `1 token, ${T} cached, ${c.heads.nHeads} heads / ${c.heads.nKv} kv, d=${K}`;
  return `${T}×${K}→${N}`;
}

const f = (v: number, d = 2) => v.toFixed(d);

export async function realSizeMain(argv: string[]): Promise<void> {
  const name = arg(argv, '--model') ?? 'Qwen2.5-Coder-0.5B';
  const quick = argv.includes('--quick');
  const forced = parseKernelsOption(arg(argv, '--kernels'));
  const tokensArg = arg(argv, '--tokens');
  if (tokensArg !== undefined && !(Number.isInteger(Number(tokensArg)) && Number(tokensArg) >= 1))
    throw new UsageError(`--tokens must be a positive integer, got "${tokensArg}"`);
  // --layers N: a quicker check at real width with fewer layers (not recorded in the docs).
  const layers = arg(argv, '--layers') ? Number(arg(argv, '--layers')) : undefined;
  if (layers !== undefined && (!Number.isInteger(layers) || layers < 1))
    throw new UsageError(`--layers must be a positive integer, got "${arg(argv, '--layers')}"`);
  const dir = await realSizeModel(name, layers);
  log(`loading ${dir}`);
  const engine = await loadNodeModel(dir, { kernels: forced });
  const { runner, memory, model } = engine;
  const { device, info } = engine.gpu;
  const config = model.config;
  const software = info.software;
  const reps = software || quick ? 3 : 10;
  // One step at 1,024 tokens is ≈ 2 TFLOP: an hour on a software adapter at ≈ 1 GFLOP/s.
  const defaultT = software ? 32 : 1024;
  const T = tokensArg ? Number(tokensArg) : defaultT;
  const out: string[] = [];

  log('measuring the adapter’s peaks');
  const peaks = await measurePeaks(runner, software);

  // (a) Every version of every operation at the model's shapes, on its weights: the tuner's
  // cases and timings (each version checked against the register one first). A runner of its
  // own, so its picks leave the engine's selection as it was.
  log(`timing every kernel version at T=${T}`);
  const cases = modelTuneCases(model, T);
  const results = await tuneKernels(new KernelRunner(device), cases, {
    reps,
    onProgress: (p) => log(`${p.phase} ${p.done}/${p.total} ${p.detail ?? ''}`),
  });
  const versionRows: string[] = [];
  for (const r of results) {
    const c = cases.find((x) => x.op === r.op && x.label === r.label)!;
    const bytes = caseBytes(c, kvCacheType(device) === 'f16' ? 2 : 4); // the tuner's cache type
    const first = r.versions.find((v) => v.ms !== undefined)?.ms;
    for (const v of r.versions) {
      const cells = [r.op, r.label, v.name, shapeText(c), f(r.flops / 1e9, 3), bytes ? f(bytes / 1e6, 1) : '–'];
      if (v.ms === undefined) cells.push(v.status, '', '', '', '', '', '');
      else {
        const gflops = r.flops / v.ms / 1e6;
        const gbps = bytes ? bytes / v.ms / 1e6 : undefined;
        cells.push(
          f(v.ms, 3),
          f(gflops),
          gbps ? f(gbps) : '–',
          f((100 * gflops) / peaks.gflops, 1),
          gbps ? f((100 * gbps) / peaks.gbps, 1) : '–',
          `${f(first! / v.ms)}×`,
          v.name === r.chosen ? 'fastest' : '',
        );
      }
      versionRows.push(`| ${cells.join(' | ')} |`);
    }
  }

  // The peer: ORT's MatMul at the linear forward and decode shapes; ours timed the same way
  // (activations written from the CPU, the product read back, wall clock).
  log('the peer: onnxruntime-web MatMul');
  const gpu = await nodeGpu();
  const peerRows: string[] = [];
  const peerSkipped: string[] = [];
  for (const c of cases.filter((x) => x.op === 'linear' || x.op === 'gemv')) {
    const { T: M, K, N } = c.shape;
    if (K * N * 4 > device.limits.maxStorageBufferBindingSize) {
      peerSkipped.push(`${c.op} ${c.label} ${shapeText(c)} (f32 weights of ${f((K * N * 4) / 2 ** 20, 0)} MiB exceed one binding)`);
      continue;
    }
    let ortMs: number;
    try {
      ortMs = await ortMatMulMs(gpu, M, K, N, reps);
    } catch (e) {
      peerSkipped.push(`${c.op} ${c.label} ${shapeText(c)} (ORT failed: ${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    for (const [v, ms] of await oursEndToEnd(runner, c, reps))
      peerRows.push(`| ${c.op} | ${c.label} | ${shapeText(c)} | ${v} | ${f(ms, 2)} | ${f(ortMs, 2)} | ${f(ms / ortMs)}× |`);
  }

  // (b) One LoRA training step at real size through the engine.
  log(`training steps at ${T} tokens`);
  const lora = BENCH_LORA;
  const adapter = new GpuLora(memory, lora, initHostAdapter(config, lora, 1), { trainable: true });
  const tf = new Transformer(runner, memory, model, adapter, { seqLen: T });
  const trainer = new LoraTrainer(runner, memory, tf, adapter);
  const ids = Array.from({ length: T }, (_, i) => (i * 37) % config.vocabSize);
  runner.kernels.used.clear();
  await trainer.trainStep([{ ids }], DEFAULT_OPTIMIZER); // warm-up: pipelines
  const used = [...runner.kernels.used.keys()].sort().join(', ');
  const d0 = runner.dispatches;
  const steps = software ? 1 : 5;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await trainer.trainStep([{ ids }], DEFAULT_OPTIMIZER);
  const stepMs = (performance.now() - t0) / steps;
  const dispatchesPerStep = (runner.dispatches - d0) / steps;
  const mem = memory.report();
  tf.destroy();
  adapter.destroy();
  const stepFlops = loraStepFlops(config, T);
  const achieved = stepFlops / stepMs / 1e6;
  const mib = (b: number) => f(b / 2 ** 20, 1);

  // (c) Decoding, base and with an adapter.
  const promptTokens = software ? 32 : 512;
  const newTokens = software ? 8 : 64;
  log(`decoding: prompt ${promptTokens}, ${newTokens} new tokens`);
  const decodeRows = await benchDecode(
    device,
    { promptTokens, newTokens, reps: software ? 1 : reps, kernels: runner.kernels },
    { config, memory, model },
  );
  const weightBytes = matmulParams(config) * 2;
  const bound = (peaks.gbps * 1e9) / weightBytes;

  const adapterName = `${info.vendor} ${info.architecture} — ${info.description}${software ? ' (software adapter)' : ''}`;
  const shapes = `${config.numLayers} layers, hidden ${config.hiddenSize}, ${config.numHeads} heads / ${config.numKvHeads} kv (d=${config.headDim}), intermediate ${config.intermediateSize}, vocab ${config.vocabSize}`;
  out.push(
    `## Real size: ${name} (${new Date().toISOString().slice(0, 10)})`,
    '',
    `\`npm run bench -- --real-size --model ${name}${T !== defaultT ? ` --tokens ${T}` : ''}${forced ? ` --kernels ${forced}` : ''}\`: adapter **${adapterName}** (Node ${process.version}, Dawn through the \`webgpu\` package), on a random-weight model with ${name}'s shapes (${shapes}; bf16, ${mib(weightBytes)} MiB of matrix weights).`,
    '',
    `Measured peaks of this adapter: **${f(peaks.gflops, 1)} GFLOP/s** f32 FMA, **${f(peaks.gbps, 1)} GB/s** copy bandwidth (${peaks.method}).`,
    '',
    `Every kernel version at T=${T} (the tuner's cases: one layer's projections, the LM head's loss tile and its decode rows, training attention forward + backward, cached attention for one decoded token), timed by ${results[0]?.versions.find((v) => v.clock)?.clock ?? 'wall-clock'}, median of ${reps}; each checked against the register version first. MB moved: the least a call can move (16-bit weights once, f32 activations in and out):`,
    '',
    '| op | weight | version | shape | GFLOP | MB moved | ms | GFLOP/s | GB/s | % FMA peak | % bandwidth | speed vs first | |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...versionRows,
    '',
    `Peer: onnxruntime-web ${ortVersion()} MatMul (WebGPU execution provider, f32 weights) on the same adapter in the same process, at the same shapes; both timed from activations written by the CPU to the product read back (wall clock, median of ${reps}); ratio = our time ÷ ORT's (below 1: ours is faster)${peerSkipped.length ? `. Not run: ${peerSkipped.join('; ')}` : ''}:`,
    '',
    '| op | weight | shape | our version | ours ms | ORT ms | ours ÷ ORT |',
    '| --- | --- | --- | --- | ---: | ---: | ---: |',
    ...peerRows,
    '',
    `Training: one LoRA step (r=16 on all 7 modules, forward, backward with recompute, AdamW) at **${T} tokens**${software ? ` (not 1,024: on a software adapter one step at 1,024 tokens is ≈ ${f(loraStepFlops(config, 1024) / 1e12, 1)} TFLOP, about an hour here at the rate measured below)` : ''}: ` +
      `**${f(stepMs, 0)} ms/step, ${f((T / stepMs) * 1000, 1)} tokens/s**, ${f(achieved, 2)} GFLOP/s = **MFU ${f((100 * achieved) / peaks.gflops, 1)}%** of the measured FMA peak ` +
      `(model FLOPs = 4·N·T + 6·L·heads·d·T² = ${f(stepFlops / 1e9, 1)} GFLOP, N = ${(matmulParams(config) / 1e6).toFixed(1)}M parameters in matrix products incl. the LM head; LoRA products and the recompute not counted; mean of ${steps} step${steps > 1 ? 's' : ''} after a warm-up). ` +
      `GPU memory (the engine's accounting): ${mib(mem.total)} MiB (weights ${mib(mem.weights)}, LoRA ${mib(mem.lora)}, optimizer+grads ${mib(mem.optimizer)}, activations ${mib(mem.activations)}, scratch ${mib(mem.scratch)}). ` +
      `**Dispatches per micro-batch: ${dispatchesPerStep}**. Kernel versions that ran: ${used}.`,
    '',
    decodeSummary(decodeRows, `${name} shapes, random weights`),
    '',
    `Decode bandwidth bound: ${mib(weightBytes)} MiB of weights per token at ${f(peaks.gbps, 1)} GB/s = ${f(bound, 1)} tokens/s; the base model decoded at ${f((100 * decodeRows[0].decodeTokensPerS) / bound, 1)}% of it. Dispatches per decoded token: ${decodeRows[0].dispatchesPerToken} base, ${decodeRows[1].dispatchesPerToken} with LoRA unmerged, ${decodeRows[2].dispatchesPerToken} merged.`,
    '',
  );
  const section = out.join('\n');
  console.log(section);
  engine.close();
  if (layers) return;
  const path = new URL('../docs/BENCHMARKS.md', import.meta.url);
  await writeFile(path, withSection(await readFile(path, 'utf8').catch(() => '# Benchmarks\n'), section));
}

const MARK = '<!-- bench:real-size -->';

/** The document with its real-size section replaced (or put before the latest run's). */
export function withSection(doc: string, section: string): string {
  const block = `${MARK}\n${section.trimEnd()}\n${MARK}`;
  const parts = doc.split(MARK);
  if (parts.length >= 3) return `${parts[0]}${block}${parts.slice(2).join(MARK)}`;
  const latest = doc.indexOf('<!-- bench:latest -->');
  if (latest < 0) return `${doc.trimEnd()}\n\n${block}\n`;
  return `${doc.slice(0, latest)}${block}\n\n${doc.slice(latest)}`;
}

/** Each linear (or GEMV) version on this case, timed as ORT is: x written, dispatch, y read back. */
async function oursEndToEnd(runner: KernelRunner, c: TuneCase, reps: number): Promise<Array<[string, number]>> {
  const device = runner.device;
  const { T, K, N } = c.shape;
  const W = c.weight!;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const x = device.createBuffer({ size: T * K * 4, usage });
  const y = device.createBuffer({ size: T * N * 4, usage });
  const xData = Float32Array.from({ length: T * K }, (_, i) => Math.sin(i));
  const rows: Array<[string, number]> = [];
  const run = async (versions: readonly KernelVersion<unknown>[], args: unknown) => {
    for (const v of versions) {
      if (!runner.kernels.available(v) || !v.supports(args)) continue;
      const once = async () => {
        const t0 = performance.now();
        device.queue.writeBuffer(x, 0, xData);
        await runner.run((pass) => v.record(runner, pass, args));
        await readFloat32(device, y, T * N);
        return performance.now() - t0;
      };
      await once();
      const times: number[] = [];
      for (let r = 0; r < reps; r++) times.push(await once());
      times.sort((a, b) => a - b);
      rows.push([v.name, times[Math.floor(times.length / 2)]]);
    }
  };
  if (c.op === 'linear') {
    const band = { buffer: W.chunks[0].buffer, bufferRow: 0, rows: c.rows! };
    await run(LINEAR_VERSIONS as readonly KernelVersion<unknown>[], {
      x,
      W,
      band,
      y,
      yStride: N,
      yCol0: 0,
      T,
      accumulate: false,
    } satisfies LinearArgs);
  } else {
    await run(GEMV_VERSIONS as readonly KernelVersion<unknown>[], {
      x,
      W,
      chunk: { ...W.chunks[0], rows: c.rows! },
      y,
      accumulate: false,
      xRow: 0,
    } satisfies GemvArgs);
  }
  x.destroy();
  y.destroy();
  return rows;
}
