// The headless commands as a user runs them (real processes, files on disk, Dawn):
// make-tiny-model → loss matches the float64 reference; PEFT adapters change the loss
// exactly as the reference says and survive a save/load; train-steps halves the loss.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { openModel } from '../../src/model/loader.ts';
import { hostTensorToFloat64 } from '../../src/model/loader.ts';
import { refForward, refWeightsFromTensors } from '../../src/gpu/reference/transformer.ts';
import { readPeftAdapter, writePeftAdapter } from '../../src/model/peft.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { runCli } from '../helpers/cli.ts';
import { randomAdapter, refLora } from '../helpers/tiny.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-engine-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function reference(modelDir: string) {
  const m = await openModel(nodeFiles(modelDir));
  const tensors = new Map<string, Float64Array>();
  for (const n of m.tensorNames) tensors.set(n, hostTensorToFloat64(await m.tensor(n)));
  return { config: m.config, ref: refWeightsFromTensors(m.config, (n) => tensors.get(n)!) };
}

describe.skipIf(!!gpuSkipReason)(`homecoder loss / train-steps on Dawn${skipNote}`, () => {
  for (const arch of ['llama', 'qwen2'] as const) {
    it(`${arch}: loss --json equals the float64 reference, with and without a PEFT adapter`, async () => {
      const model = join(dir, arch);
      expect(
        runCli(
          'make-tiny-model',
          '--arch',
          arch,
          '--out',
          model,
          '--layers',
          '2',
          '--hidden',
          '32',
          '--heads',
          '4',
          '--kv-heads',
          '2',
          '--intermediate',
          '48',
          '--seed',
          '5',
        ).status,
      ).toBe(0);
      const text = join(dir, 'text.txt');
      writeFileSync(text, 'def add(a, b):\n    return a + b\n');
      const r = runCli('loss', '--model', model, '--text', text, '--json');
      expect(r.status, r.stderr).toBe(0);
      const out = r.json() as { tokens: number; loss: number; ids: number[]; per_token: number[] };
      const { config, ref } = await reference(model);
      const want = refForward(ref, undefined, out.ids);
      expect(out.tokens).toBe(out.ids.length);
      expect(out.per_token).toHaveLength(out.ids.length - 1);
      if (arch === 'llama') expect(out.ids[0]).toBe(config.bosTokenId); // BOS only where the tokenizer adds it
      expect(Math.abs(out.loss - want.loss) / want.loss).toBeLessThan(1e-4);
      const mean = out.per_token.reduce((a, b) => a + b, 0) / out.per_token.length;
      expect(Math.abs(mean - out.loss) / out.loss).toBeLessThan(1e-5);

      // A random non-zero adapter, saved in PEFT format: the loss moves exactly as the reference says.
      const host = randomAdapter(config, 4, [...LORA_TARGETS], 9, 0.3);
      const lora = { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] };
      const adapterDir = join(dir, `${arch}-adapter`);
      mkdirSync(adapterDir, { recursive: true });
      for (const [name, bytes] of writePeftAdapter({ lora, baseModel: arch, layers: host })) writeFileSync(join(adapterDir, name), bytes);
      const withAdapter = runCli('loss', '--model', model, '--text', text, '--adapter', adapterDir, '--json').json() as { loss: number };
      const wantAdapter = refForward(ref, refLora(host, 4, 8), out.ids);
      expect(Math.abs(wantAdapter.loss - want.loss)).toBeGreaterThan(0.01); // the adapter matters
      expect(Math.abs(withAdapter.loss - wantAdapter.loss) / wantAdapter.loss).toBeLessThan(1e-4);
      // Loaded back, the adapter is the same numbers (so the same logits).
      const back = await readPeftAdapter(nodeFiles(adapterDir), config);
      expect(Array.from(back.layers[1].down_proj!.B)).toEqual(Array.from(host[1].down_proj!.B));
    });
  }

  it('train-steps: 60 steps on a small repeated text cut the loss by more than half, and the adapter loads', () => {
    const model = join(dir, 'train-model');
    expect(runCli('make-tiny-model', '--arch', 'qwen2', '--out', model).status).toBe(0);
    const text = join(dir, 'repeat.txt');
    writeFileSync(text, 'for i in range(10):\n    print(i * i)\n'.repeat(4));
    const out = join(dir, 'trained');
    const r = runCli(
      'train-steps',
      '--model',
      model,
      '--text',
      text,
      '--steps',
      '60',
      '--lr',
      '0.005',
      '--lora-r',
      '8',
      '--seq-len',
      '64',
      '--out',
      out,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const res = r.json() as {
      steps: Array<{ loss: number }>;
      final_loss: number;
      memory: { total: number; weights: number; optimizer: number };
    };
    expect(res.steps).toHaveLength(60);
    expect(res.final_loss).toBeLessThan(res.steps[0].loss / 2);
    expect(res.memory.optimizer).toBeGreaterThan(0);
    const before = runCli('loss', '--model', model, '--text', text, '--json').json() as { loss: number };
    const after = runCli('loss', '--model', model, '--text', text, '--adapter', out, '--json').json() as { loss: number };
    expect(after.loss).toBeLessThan(before.loss / 2);
  });

  it('bad model files fail with the file and tensor named, before any GPU work', () => {
    const model = join(dir, 'bad');
    expect(runCli('make-tiny-model', '--arch', 'llama', '--out', model).status).toBe(0);
    writeFileSync(join(model, 'config.json'), JSON.stringify({ architectures: ['BloomForCausalLM'] }));
    const r = runCli('loss', '--model', model, '--ids', join(model, 'config.json'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('BloomForCausalLM is not supported');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
