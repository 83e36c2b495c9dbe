// The text layer over the decoder: stop strings cut the text (and streamed deltas never show
// a stop string or a part of one that then matched), a deadline stops after the first token,
// a warm-up request (0 tokens) answers at once, long prompts are truncated and say so, and
// the next request reuses the cached prompt prefix.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeModel, type NodeModel } from '../../src/cli/open-model.ts';
import { Decoder } from '../../src/gpu/decoder.ts';
import { CompletionService } from '../../src/serve/completion-service.ts';
import { DEFAULT_REQUEST, type CompletionRequest } from '../../src/serve/types.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/serve.ts';

describe.skipIf(!!gpuSkipReason)(`completion service${skipNote}`, () => {
  let engine: NodeModel;
  let service: CompletionService;
  const base: CompletionRequest = { ...DEFAULT_REQUEST, prefix: 'def add(a, b):\n    ', suffix: '\n', maxTokens: 40 };

  beforeAll(async () => {
    const dir = writeTinyModel({ seed: 11, layers: 2, hidden: 64 });
    engine = await loadNodeModel(dir);
    service = new CompletionService(
      new Decoder(engine.memory, engine.model, { contextLength: 192 }),
      engine.tokenizer,
      engine.opened.config,
    );
    return () => engine.close();
  });

  async function run(req: CompletionRequest) {
    const deltas: string[] = [];
    const r = await service.complete(req, { onText: (d) => deltas.push(d) });
    return { r, deltas };
  }

  it('cuts at a stop string, and the stream never shows it', async () => {
    const free = await run(base);
    expect(free.deltas.join('')).toBe(free.r.text);
    const text = free.r.text;
    expect(text.length).toBeGreaterThan(6);
    const stop = text.slice(3, 5);
    const cut = text.indexOf(stop);
    const stopped = await run({ ...base, stop: ['never-there', stop] });
    expect(stopped.r.text).toBe(text.slice(0, cut));
    expect(stopped.r.finishReason).toBe('stop');
    expect(stopped.deltas.join('')).toBe(stopped.r.text);
    expect(stopped.deltas.join('')).not.toContain(stop);
    // The second request reused the first one's prompt in the KV cache.
    expect(stopped.r.reusedTokens).toBe(stopped.r.promptTokens - 1);
  });

  it('stops at a deadline, answers a warm-up at once, and truncates a long prompt', async () => {
    // The deadline stops at the first token after which the text holds a newline (llama.cpp).
    const free = await run({ ...base, maxTokens: 60 });
    const d = await run({ ...base, maxTokens: 60, deadlineMs: 0 });
    expect(free.r.text).toContain('\n'); // this fixture's greedy text has a line break
    expect(d.r.finishReason).toBe('deadline');
    expect(free.r.text.startsWith(d.r.text)).toBe(true);
    expect(d.r.text).toContain('\n');
    expect(d.r.text.length).toBeLessThan(free.r.text.length);
    // It stopped with the token that brought the line break (one token is a few characters).
    expect(d.r.text.length - d.r.text.indexOf('\n')).toBeLessThanOrEqual(8);
    const warm = await run({ ...base, maxTokens: 0 });
    expect(warm.r).toMatchObject({ text: '', completionTokens: 0 });
    const long = await run({ ...base, prefix: 'x = 1\n'.repeat(400), maxTokens: 8 });
    expect(long.r.truncated).toBe(true);
    expect(long.r.promptTokens).toBeLessThanOrEqual(192 - 8);
    const cancelled = new AbortController();
    cancelled.abort();
    expect((await service.complete(base, { signal: cancelled.signal })).finishReason).toBe('cancelled');
    expect(service.active).toBe(0);
  });
});
