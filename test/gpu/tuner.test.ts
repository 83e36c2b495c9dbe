// The autotuner on a tiny model: every version this adapter can run is checked and timed
// at each of the model's shapes, the fastest correct one is chosen and used, the choices
// survive a save and load per adapter, and `homecoder tune` / `homecoder kernels` print them.
// (On a software adapter the ranking itself means nothing; only the mechanics are tested.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { KernelSelection } from '../../src/gpu/kernel-versions.ts';
import { LINEAR_VERSIONS } from '../../src/gpu/kernels/linear.ts';
import { ATTENTION_F16_TOLERANCE } from '../../src/gpu/kernels/attention-flash-f16.ts';
import { GEMV_VERSIONS } from '../../src/gpu/kernels/gemv.ts';
import { modelTuneCases, tuneKernels } from '../../src/gpu/tuner.ts';
import { adapterKey, applyStoredPicks, KERNELS_REVISION, savePicks } from '../../src/gpu/tune-store.ts';
import { fileTuneStore } from '../../src/cli/tune-cache.ts';
import { gpuSkipReason, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { runCli } from '../helpers/cli.ts';
import { tinyConfig, tinyModel } from '../helpers/tiny.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-tune-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!!gpuSkipReason)(`kernel autotuner${skipNote}`, () => {
  it('times every available version at the model shapes, picks the fastest correct one, and remembers it per adapter', async () => {
    const { device, info } = await testDevice();
    const runner = await testRunner();
    const config = tinyConfig('llama', { hiddenSize: 64, intermediateSize: 96, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 80 });
    const { tensors } = tinyModel(config, 2);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const cases = modelTuneCases(model, 40);
    // One case per shape: q and o are 64→64, k and v 64→32, gate and up 64→96, down 96→64, the LM head 64→80.
    expect(cases.filter((c) => c.op === 'linear').map((c) => c.label)).toEqual([
      'attn.q',
      'attn.k',
      'mlp.gate',
      'mlp.down',
      'lm_head tile',
    ]);
    // Training attention: one case (head size 16, 2 query heads per kv head), forward and backward.
    expect(cases.filter((c) => c.op === 'attention').map((c) => c.shape)).toEqual([{ T: 40, K: 16, N: 2 }]);
    // Cached attention: one decoded token against the cache at 64, 512 and 4096 positions, capped by the context (128 here).
    expect(cases.filter((c) => c.op === 'attention-cached').map((c) => c.shape)).toEqual([
      { T: 64, K: 16, N: 2 },
      { T: 128, K: 16, N: 2 },
    ]);
    const progress: number[] = [];
    const t0 = performance.now();
    const times: string[] = [];
    const results = await tuneKernels(runner, cases, {
      reps: 2,
      onProgress: (p) => {
        progress.push(p.done);
        times.push(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${p.detail ?? 'done'}`);
      },
    });
    console.log(`[tuner] progress over time:\n  ${times.join('\n  ')}`);
    expect(progress.at(-1)).toBe(cases.length);
    for (const r of results) {
      const ok = r.versions.filter((v) => v.status === 'ok');
      // lavapipe has shader-f16 and subgroups: every version runs and agrees with the register one.
      expect(r.versions.map((v) => v.status)).toEqual(r.versions.map(() => 'ok'));
      for (const v of ok) expect(v.error!).toBeLessThan(v.name.includes('f16') ? 1e-2 : 1e-5);
      expect(r.chosen).toBe(ok.reduce((b, v) => (v.ms! < b.ms! ? v : b)).name);
    }
    const attention = results.find((r) => r.op === 'attention')!;
    expect(attention.versions.map((v) => v.name)).toEqual(['attention.simple', 'attention.flash', 'attention.flash-f16']);
    expect(attention.versions[1].error!).toBeLessThan(2e-5); // the attention test's tolerance
    expect(attention.versions[2].error!).toBeLessThan(ATTENTION_F16_TOLERANCE(16)); // f16's, at head size 16
    const cached = results.find((r) => r.op === 'attention-cached')!;
    expect(cached.versions.map((v) => v.name)).toEqual(['attention-cached.shared', 'attention-cached.subgroup']);
    expect(cached.versions[1].error!).toBeLessThan(1e-5); // both widen the cache exactly and compute in f32
    // The engine now runs the chosen versions at those shapes (any T in the same power-of-two bucket).
    const linear = results.find((r) => r.op === 'linear' && r.label === 'mlp.down')!;
    const w = model.layers[0].down.weight;
    const args = {
      x: w.chunks[0].buffer,
      W: w,
      band: { buffer: w.chunks[0].buffer, bufferRow: 0, rows: w.rows },
      y: w.chunks[0].buffer,
      yStride: 0,
      yCol0: 0,
      T: 33,
      accumulate: false,
    };
    expect(runner.kernels.choose(LINEAR_VERSIONS, { T: 33, K: w.cols, N: w.rows }, args).name).toBe(linear.chosen);

    const store = fileTuneStore(join(dir, 'kernels.json'));
    await savePicks(store, info, runner.kernels);
    const fresh = KernelSelection.forDevice(device);
    expect(await applyStoredPicks(store, info, fresh)).toBe(results.length);
    expect(fresh.picksRecord()).toEqual(runner.kernels.picksRecord());
    const gemv = results.find((r) => r.op === 'gemv' && r.label === 'lm_head')!;
    const head = model.lmHead;
    const gemvArgs = { x: head.chunks[0].buffer, W: head, chunk: head.chunks[0], y: head.chunks[0].buffer, accumulate: false, xRow: 0 };
    expect(fresh.choose(GEMV_VERSIONS, { T: 1, K: head.cols, N: head.rows }, gemvArgs).name).toBe(gemv.chosen);
    // Another adapter, or another revision of the kernels, starts untuned.
    expect(adapterKey(info)).toContain(`kernels r${KERNELS_REVISION}`);
    expect(await store.load(adapterKey({ ...info, device: 'another GPU' }))).toBeUndefined();
    memory.destroyAll();
  }, 300_000); // every version of five operations at 15 shapes, on a software adapter

  it('homecoder tune --json prints every version per shape and stores the choices; kernels --json lists them', async () => {
    const modelDir = join(dir, 'model');
    const cache = join(dir, 'cli-kernels.json');
    expect(runCli('make-tiny-model', '--arch', 'qwen2', '--out', modelDir, '--hidden', '64', '--intermediate', '128').status).toBe(0);
    const tune = runCli('tune', '--model', modelDir, '--seq-len', '24', '--reps', '1', '--ops', 'linear,gemv', '--cache', cache, '--json');
    expect(tune.status, tune.stderr).toBe(0);
    const out = tune.json() as {
      adapter: string;
      results: Array<{
        op: string;
        shape: { T: number };
        versions: Array<{ name: string; status: string; ms?: number; gflops?: number }>;
        chosen: string;
      }>;
    };
    expect(new Set(out.results.map((r) => r.op))).toEqual(new Set(['linear', 'gemv']));
    for (const r of out.results) {
      expect(r.versions.length).toBeGreaterThan(1);
      expect(r.versions.find((v) => v.name === r.chosen)?.status).toBe('ok');
      for (const v of r.versions.filter((x) => x.status === 'ok')) expect(v.gflops).toBeGreaterThan(0);
    }
    const kernels = runCli('kernels', '--cache', cache, '--json');
    expect(kernels.status, kernels.stderr).toBe(0);
    const k = kernels.json() as {
      adapter: string;
      families: string[];
      versions: Array<{ name: string; available: boolean }>;
      tuned: Record<string, string>;
    };
    expect(k.adapter).toBe(out.adapter);
    expect(k.versions.map((v) => v.name)).toEqual(
      expect.arrayContaining(['linear.register', 'linear.tiled', 'linear-dx.tiled-f16', 'gemv.subgroup']),
    );
    expect(k.families).toContain('register');
    expect(Object.values(k.tuned).sort()).toEqual(out.results.map((r) => r.chosen).sort());
    // A family name that does not exist is refused before anything loads.
    const bad = runCli('loss', '--model', modelDir, '--ids', cache, '--kernels', 'fast');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--kernels must be one of register, tiled, tiled-f16, subgroup/);
  });
});
