// The merged Hugging Face folder `homecoder export --format hf` writes loads in the engine
// (Dawn): its losses equal the float64 reference of the merged weights (relative 1e-4, as
// the engine's own tests), and the losses of base + adapter within bf16 rounding — the
// merged weights are rounded to bf16 once (relative error ≤ 2⁻⁹ per weight), which on these
// random models with a strong adapter moves per-token losses by up to 0.06 nats in the
// float64 reference itself; so: mean loss within 0.01, each token within 0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { writePeftAdapter } from '../../src/model/peft.ts';
import { hostTensorToFloat64, openModel } from '../../src/model/loader.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { refForward, refWeightsFromTensors } from '../../src/gpu/reference/transformer.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { runCli } from '../helpers/cli.ts';
import { randomAdapter } from '../helpers/tiny.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-merge-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!!gpuSkipReason)(`merged export loads in the engine${skipNote}`, () => {
  for (const arch of ['qwen2', 'llama'] as const) {
    it(`${arch}: the merged folder's losses equal base + adapter (within bf16 rounding)`, async () => {
      const { config, files } = makeTinyModel({ arch, seed: 4, hidden: 64, intermediate: 128 });
      const base = join(dir, arch);
      mkdirSync(base, { recursive: true });
      for (const [n, b] of files) writeFileSync(join(base, n), b);
      const adapter = join(dir, `${arch}-adapter`);
      mkdirSync(adapter, { recursive: true });
      const host = randomAdapter(config, 4, [...LORA_TARGETS], 7, 0.3);
      for (const [n, b] of writePeftAdapter({
        lora: { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] },
        baseModel: arch,
        layers: host,
      }))
        writeFileSync(join(adapter, n), b);
      const merged = join(dir, `${arch}-merged`);
      const r = runCli('export', '--quiet', '--model', base, '--adapter', adapter, '--format', 'hf', '--out', merged);
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(merged)).toEqual(expect.arrayContaining(['config.json', 'tokenizer.json', 'README.md', 'model.safetensors']));
      const text = join(dir, 'text.txt');
      writeFileSync(text, 'def add(a, b):\n    return a + b\n\nclass Point:\n    pass\n');
      const loss = (...args: string[]) => {
        const out = runCli('loss', '--text', text, '--json', ...args);
        expect(out.status, out.stderr).toBe(0);
        return out.json() as { loss: number; per_token: number[]; ids: number[] };
      };
      const plain = loss('--model', base);
      const want = loss('--model', base, '--adapter', adapter);
      const got = loss('--model', merged);
      expect(Math.abs(want.loss - plain.loss)).toBeGreaterThan(0.05); // the adapter matters
      const m = await openModel(nodeFiles(merged));
      const t = new Map<string, Float64Array>();
      for (const n of m.tensorNames) t.set(n, hostTensorToFloat64(await m.tensor(n)));
      const ref = refForward(
        refWeightsFromTensors(m.config, (n) => t.get(n)!),
        undefined,
        got.ids,
      );
      expect(Math.abs(got.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
      expect(Math.abs(got.loss - want.loss)).toBeLessThan(0.01);
      for (let i = 0; i < want.per_token.length; i++) expect(Math.abs(got.per_token[i] - want.per_token[i])).toBeLessThan(0.1);
    });
  }
});
