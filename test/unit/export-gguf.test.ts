// `homecoder export` through a real llama.cpp (node-llama-cpp's CPU build, run as a child
// script: test/helpers/llama-run.mjs) and a second GGUF reader (@huggingface/gguf):
// - F16 GGUF of the base (Qwen2 and Llama: Llama's q/k rows are permuted for llama.cpp's
//   RoPE) and of the merged model: llama.cpp's greedy continuation equals Homecoder's
//   (its float64 reference forward, which the engine is tested against) for 16 tokens;
// - the GGUF LoRA adapter applied at load gives the same continuation as base + adapter;
// - Q8_0: along Homecoder's greedy path, llama.cpp's next-token distribution is within
//   KL 0.06 nats of Homecoder's (measured ≤ 0.025) and the log-probability of every token
//   above 1% within 0.75 nats (measured ≤ 0.48): 8-bit weights with one f16 scale per 32
//   values, and llama.cpp also quantises the activations to 8 bits in Q8_0 dot products,
//   which a 64-wide random model feels more than a real one;
// - Q4_K (4-bit, blocks of 256: a 256-wide model): llama.cpp's distributions equal
//   Homecoder's reference run on the Q4_K weights dequantized as ggml's
//   dequantize_row_q4_K does, within KL 0.03 (measured ≈0.01): llama.cpp reads the blocks
//   as written. (Against the unquantised model a random 256-wide model moves by KL ≈1.7:
//   4 bits are coarse for random weights.)
// - the real Qwen tokenizer: llama.cpp tokenizes a code sample to Homecoder's ids.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTensorToFloat64, openModel } from '../../src/model/loader.ts';
import { refForward, refWeightsFromTensors, type RefLora, type RefWeights } from '../../src/gpu/reference/transformer.ts';
import { writePeftAdapter } from '../../src/model/peft.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { encodeQ4_K } from '../../src/model/export/quantize.ts';
import { f16ToFloat } from '../../src/model/dtype.ts';
import { runCli } from '../helpers/cli.ts';
import { randomAdapter, refLora } from '../helpers/tiny.ts';

const PROMPT = [10, 20, 30, 40, 50];
const STEPS = 16;
const Q8_KL = 0.06;
const Q8_LOGP = 0.75;
const CODE =
  'def fib(n: int) -> int:\n    """Fibonacci, slowly."""\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nconsole.log(`x = `, x); // ünïcode → ok\n';

let dir: string;
const refs = new Map<string, RefWeights>();
const loras = new Map<string, RefLora>();
let llama: Array<{ greedy?: number[]; tokens?: number[]; logProbs?: number[][] }>;
const requests: Array<Record<string, unknown>> = [];
const at = new Map<string, number>();

function ask(key: string, req: Record<string, unknown>) {
  at.set(key, requests.length);
  requests.push(req);
}
const result = (key: string) => llama[at.get(key)!];

function writeFolder(path: string, files: Map<string, Uint8Array>) {
  mkdirSync(path, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(path, name), bytes);
}

function exportCli(...args: string[]) {
  const r = runCli('export', '--quiet', ...args);
  expect(r.stderr, r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.trim().split('\n');
}

async function reference(modelDir: string, round?: (v: Float64Array) => Float64Array): Promise<RefWeights> {
  const m = await openModel(nodeFiles(modelDir));
  const t = new Map<string, Float64Array>();
  for (const n of m.tensorNames) t.set(n, hostTensorToFloat64(await m.tensor(n)));
  // Matrices (not norms or biases) through the quantizer when asked.
  return refWeightsFromTensors(m.config, (n) => (round && /_proj\.weight$|embed_tokens/.test(n) ? round(t.get(n)!) : t.get(n)!));
}

/** ggml's dequantize_row_q4_K, written from the block layout (d, dmin, 12 packed 6-bit scales/mins, 4-bit quants). */
function dequantQ4_K(b: Uint8Array, n: number): Float64Array {
  const out = new Float64Array(n);
  const v = new DataView(b.buffer, b.byteOffset);
  for (let k = 0; k < n / 256; k++) {
    const o = k * 144;
    const d = f16ToFloat(v.getUint16(o, true));
    const dmin = f16ToFloat(v.getUint16(o + 2, true));
    const q = b.subarray(o + 4, o + 16);
    const qs = b.subarray(o + 16, o + 144);
    const scaleMin = (j: number) =>
      j < 4 ? [q[j] & 63, q[j + 4] & 63] : [(q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)];
    for (let j = 0; j < 4; j++) {
      const [s1, m1] = scaleMin(2 * j);
      const [s2, m2] = scaleMin(2 * j + 1);
      for (let l = 0; l < 32; l++) {
        out[k * 256 + 64 * j + l] = d * s1 * (qs[32 * j + l] & 0xf) - dmin * m1;
        out[k * 256 + 64 * j + 32 + l] = d * s2 * (qs[32 * j + l] >> 4) - dmin * m2;
      }
    }
  }
  return out;
}
const q4Round = (v: Float64Array) => dequantQ4_K(encodeQ4_K(Float32Array.from(v)), v.length);
const Q4_KL = 0.03;

function logSoftmaxLast(w: RefWeights, lora: RefLora | undefined, ids: number[]): Float64Array {
  const V = w.config.vocabSize;
  const logits = refForward(w, lora, ids, undefined, { logits: true }).logits!.subarray((ids.length - 1) * V, ids.length * V);
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}

function greedy(w: RefWeights, lora: RefLora | undefined): number[] {
  const ids = [...PROMPT];
  const out: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const lp = logSoftmaxLast(w, lora, ids);
    let best = 0;
    for (let i = 1; i < lp.length; i++) if (lp[i] > lp[best]) best = i;
    out.push(best);
    ids.push(best);
  }
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hc-export-'));
  for (const arch of ['qwen2', 'llama'] as const) {
    const { config, files } = makeTinyModel({ arch, seed: 3 });
    const base = join(dir, arch);
    writeFolder(base, files);
    const r = 4;
    const host = randomAdapter(config, r, [...LORA_TARGETS], 11, 0.2);
    writeFolder(
      join(dir, `${arch}-adapter`),
      writePeftAdapter({ lora: { r, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] }, baseModel: arch, layers: host }),
    );
    refs.set(arch, await reference(base));
    loras.set(arch, refLora(host, r, 8));
    const [f16] = exportCli('--model', base, '--format', 'gguf-f16', '--out', join(dir, `${arch}-f16`));
    const [merged] = exportCli(
      '--model',
      base,
      '--adapter',
      join(dir, `${arch}-adapter`),
      '--format',
      'gguf-f16',
      '--out',
      join(dir, `${arch}-merged`),
    );
    const [lora] = exportCli(
      '--model',
      base,
      '--adapter',
      join(dir, `${arch}-adapter`),
      '--format',
      'gguf-lora',
      '--out',
      join(dir, `${arch}-lora`),
    );
    const [q8] = exportCli('--model', base, '--format', 'gguf-q8_0', '--out', join(dir, `${arch}-q8`));
    ask(`${arch} f16`, { model: f16, prompt: PROMPT, steps: STEPS, text: CODE });
    ask(`${arch} merged`, { model: merged, prompt: PROMPT, steps: STEPS });
    ask(`${arch} lora`, { model: f16, lora, prompt: PROMPT, steps: STEPS });
    ask(`${arch} q8`, { model: q8, prompt: PROMPT, force: greedy(refs.get(arch)!, undefined) });
  }
  const wide = join(dir, 'wide');
  writeFolder(wide, makeTinyModel({ arch: 'qwen2', seed: 5, hidden: 256, intermediate: 512 }).files);
  refs.set('wide q4', await reference(wide, q4Round));
  const [q4] = exportCli('--model', wide, '--format', 'gguf-q4_k', '--out', join(dir, 'wide-q4'));
  ask('wide q4', { model: q4, prompt: PROMPT, force: greedy(refs.get('wide q4')!, undefined).slice(0, 8) });
  const qwenTok = join(dir, 'qwen-tokenizer');
  expect(runCli('make-tiny-model', '--tokenizer', 'qwen', '--out', qwenTok).status).toBe(0);
  const [qf16] = exportCli('--model', qwenTok, '--format', 'gguf-f16', '--out', join(dir, 'qwen-tokenizer-f16'));
  ask('qwen tokenizer', { model: qf16, prompt: [0], text: CODE });
  const reqFile = join(dir, 'requests.json');
  writeFileSync(reqFile, JSON.stringify(requests));
  const run = spawnSync(process.execPath, ['test/helpers/llama-run.mjs', reqFile], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 1 << 28,
  });
  if (run.status !== 0) throw new Error(`llama-run failed: ${run.stderr}`);
  llama = JSON.parse(run.stdout);
}, 400_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GGUF export through llama.cpp (node-llama-cpp 3.21.1)', () => {
  for (const arch of ['qwen2', 'llama'] as const) {
    it(`${arch}: the F16 GGUF continues the prompt greedily as Homecoder does (${STEPS} tokens)`, () => {
      expect(result(`${arch} f16`).greedy).toEqual(greedy(refs.get(arch)!, undefined));
    });
    it(`${arch}: the merged F16 GGUF continues as base + adapter`, () => {
      const want = greedy(refs.get(arch)!, loras.get(arch));
      expect(want).not.toEqual(greedy(refs.get(arch)!, undefined)); // the adapter matters
      expect(result(`${arch} merged`).greedy).toEqual(want);
    });
    it(`${arch}: the GGUF LoRA adapter applied at load continues as base + adapter`, () => {
      expect(result(`${arch} lora`).greedy).toEqual(greedy(refs.get(arch)!, loras.get(arch)));
    });
    it(`${arch}: Q8_0 next-token distributions stay within KL ${Q8_KL} of Homecoder's along its greedy path`, () => {
      const path = greedy(refs.get(arch)!, undefined);
      const got = result(`${arch} q8`).logProbs!;
      expect(got).toHaveLength(STEPS);
      let worstKl = 0;
      let worstLogp = 0;
      for (let s = 0; s < STEPS; s++) {
        const want = logSoftmaxLast(refs.get(arch)!, undefined, [...PROMPT, ...path.slice(0, s)]);
        let kl = 0;
        for (let v = 0; v < want.length; v++) {
          kl += Math.exp(want[v]) * (want[v] - got[s][v]);
          if (want[v] > Math.log(0.01)) worstLogp = Math.max(worstLogp, Math.abs(got[s][v] - want[v]));
        }
        worstKl = Math.max(worstKl, kl);
      }
      expect(worstKl).toBeLessThan(Q8_KL);
      expect(worstLogp).toBeLessThan(Q8_LOGP);
      expect(worstLogp).toBeGreaterThan(0); // really quantised
    });
  }

  it(`Q4_K: llama.cpp reads the 4-bit blocks as written (KL < ${Q4_KL} to the dequantized reference)`, () => {
    const w = refs.get('wide q4')!;
    const path = greedy(w, undefined).slice(0, 8);
    const got = result('wide q4').logProbs!;
    let worst = 0;
    for (let s = 0; s < path.length; s++) {
      const want = logSoftmaxLast(w, undefined, [...PROMPT, ...path.slice(0, s)]);
      let kl = 0;
      for (let v = 0; v < want.length; v++) kl += Math.exp(want[v]) * (want[v] - got[s][v]);
      worst = Math.max(worst, kl);
    }
    expect(worst).toBeLessThan(Q4_KL);
  });

  it('llama.cpp tokenizes code to the same ids as Homecoder (tiny tokenizer and the real Qwen tokenizer)', async () => {
    const tiny = await ModelTokenizer.load(nodeFiles(join(dir, 'qwen2')));
    expect(result('qwen2 f16').tokens).toEqual(tiny.encode(CODE));
    const qwen = await ModelTokenizer.load(nodeFiles(join(dir, 'qwen-tokenizer')));
    const ids = qwen.encode(CODE);
    expect(ids.length).toBeGreaterThan(20);
    expect(result('qwen tokenizer').tokens).toEqual(ids);
  });

  it('@huggingface/gguf reads the files: architecture, hyperparameters, tokenizer, FIM ids, tensors', { timeout: 60_000 }, async () => {
    const file = join(dir, 'qwen-tokenizer-f16', 'qwen-tokenizer-f16.gguf');
    const { metadata, tensorInfos } = await gguf(file, { allowLocalFile: true });
    const md = metadata as Record<string, unknown>;
    const qwen = await ModelTokenizer.load(nodeFiles(join(dir, 'qwen-tokenizer')));
    expect(md['general.architecture']).toBe('qwen2');
    expect(md['qwen2.block_count']).toBe(2);
    expect(md['qwen2.embedding_length']).toBe(64);
    expect(md['tokenizer.ggml.model']).toBe('gpt2');
    expect(md['tokenizer.ggml.pre']).toBe('qwen2');
    expect((md['tokenizer.ggml.tokens'] as string[]).length).toBe(151_680);
    expect((md['tokenizer.ggml.merges'] as string[])[0]).toBe('Ġ Ġ');
    expect(md['tokenizer.ggml.fim_pre_token_id']).toBe(qwen.fim!.prefix);
    expect(md['tokenizer.ggml.fim_suf_token_id']).toBe(qwen.fim!.suffix);
    expect(md['tokenizer.ggml.fim_mid_token_id']).toBe(qwen.fim!.middle);
    expect(md['tokenizer.ggml.eos_token_id']).toBe(qwen.eos);
    expect(String(md['tokenizer.chat_template'])).toContain('<|im_start|>');
    const embd = tensorInfos.find((t) => t.name === 'token_embd.weight')!;
    expect(embd.shape.map(Number)).toEqual([64, 151_680]);
    expect(tensorInfos.some((t) => t.name === 'output.weight')).toBe(false); // tied
    const lora = await gguf(join(dir, 'llama-lora', readdirSync(join(dir, 'llama-lora'))[0]), { allowLocalFile: true });
    expect((lora.metadata as Record<string, unknown>)['general.type']).toBe('adapter');
    expect((lora.metadata as Record<string, unknown>)['adapter.lora.alpha']).toBe(8);
    expect(lora.tensorInfos.find((t) => t.name === 'blk.1.attn_q.weight.lora_a')!.shape.map(Number)).toEqual([64, 4]);
  });
});
