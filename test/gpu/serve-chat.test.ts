// Chat through the real `openai` and `ollama` npm clients against `homecoder serve` on a tiny
// model with a Qwen-style chat template, and named adapters picked per request. Every answer
// must equal the engine's own greedy decode, here in this process, of the template rendered
// independently (@huggingface/jinja on tokenizer_config.json), stopping at <|im_end|>/EOS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { Template } from '@huggingface/jinja';
import { loadNodeModel, type NodeModel } from '../../src/cli/open-model.ts';
import { Decoder } from '../../src/gpu/decoder.ts';
import { GpuLora } from '../../src/gpu/lora.ts';
import { readPeftAdapter } from '../../src/model/peft.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { mixAdapters } from '../../src/model/adapter-mix.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { greedyIds } from '../helpers/greedy.ts';
import { startServe, writeRandomAdapter, writeTinyModel, type RunningServe } from '../helpers/serve.ts';

const MESSAGES = [
  { role: 'system' as const, content: 'Answer with code.' },
  { role: 'user' as const, content: 'def add(a, b):' },
];
const N = 24;

describe.skipIf(!!gpuSkipReason)(`chat clients against homecoder serve${skipNote}`, () => {
  let serve: RunningServe;
  let engine: NodeModel;
  const expected: { base?: string; fn?: string; fnUnmerged?: string } = {};
  let modelDir: string;
  let adapterDir: string;

  beforeAll(async () => {
    modelDir = writeTinyModel({ seed: 3, layers: 2, hidden: 64, instruct: true });
    adapterDir = writeRandomAdapter(modelDir, 'fn');
    engine = await loadNodeModel(modelDir);
    const config = engine.opened.config;
    serve = await startServe(['--model', modelDir, '--context', '256', '--named-adapter', `fn=${adapterDir}`]);

    // The template rendered here, on its own, from the folder's tokenizer_config.json.
    const tc = JSON.parse(readFileSync(join(modelDir, 'tokenizer_config.json'), 'utf8')) as { chat_template: string; eos_token: string };
    const text = new Template(tc.chat_template).render({
      messages: MESSAGES,
      add_generation_prompt: true,
      eos_token: tc.eos_token,
      bos_token: '',
    });
    const tok = engine.tokenizer;
    const ids = tok.encode(text);
    const stops = new Set([tok.tokenId('<|im_end|>')!, tok.tokenId('<|endoftext|>')!]);
    const decoder = new Decoder(engine.memory, engine.model, { contextLength: 256 });
    const greedy = async () => tok.decode(await greedyIds(decoder, ids, N, stops), { skipSpecial: true });
    expected.base = await greedy();
    const peft = await readPeftAdapter(nodeFiles(adapterDir), config);
    const mixed = mixAdapters(config, [{ ...peft, weight: 1 }], 'cat');
    // One named adapter: served merged into the weights, as here (single).
    decoder.setAdapter(new GpuLora(engine.memory, mixed.lora, mixed.layers, { trainable: false, single: true }));
    expected.fn = await greedy();
    // `serve --no-merge`: the same adapter as LoRA products per projection.
    decoder.setAdapter(new GpuLora(engine.memory, mixed.lora, mixed.layers, { trainable: false }));
    expected.fnUnmerged = await greedy();
    expect(expected.base.length).toBeGreaterThan(2);
    expect(expected.fn).not.toBe(expected.base); // the adapter changes the answer
  });
  afterAll(async () => {
    await serve?.stop();
    engine?.close();
  });

  it('openai: chat.completions.create, plain and streamed, equals the greedy decode of the rendered template', async () => {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'homecoder', messages: MESSAGES, max_tokens: N, temperature: 0 });
    expect(r.choices[0].message.content).toBe(expected.base);
    expect(r.usage!.completion_tokens).toBeGreaterThan(2);
    const stream = await client.chat.completions.create({
      model: 'homecoder',
      messages: MESSAGES,
      max_tokens: N,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage = 0;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      usage = c.usage?.completion_tokens ?? usage;
    }
    expect(text).toBe(expected.base);
    expect(finish).toMatch(/^(stop|length)$/);
    expect(usage).toBe(r.usage!.completion_tokens);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['homecoder', 'homecoder:fn']);
  });

  it('ollama: chat, plain and streamed, equals the greedy decode', async () => {
    const ollama = new Ollama({ host: serve.url });
    const r = await ollama.chat({ model: 'homecoder', messages: MESSAGES, options: { num_predict: N, temperature: 0 } });
    expect(r.message.content).toBe(expected.base);
    expect(r.done).toBe(true);
    let text = '';
    let last: { done: boolean; eval_count: number } | undefined;
    for await (const part of await ollama.chat({ model: 'homecoder', messages: MESSAGES, stream: true, options: { num_predict: N } })) {
      text += part.message.content;
      last = part;
    }
    expect(text).toBe(expected.base);
    expect(last?.done).toBe(true);
    expect(last?.eval_count).toBeGreaterThan(2);
    expect((await ollama.list()).models.map((m) => m.name)).toEqual(['homecoder:latest', 'homecoder:fn']);
  });

  it('model homecoder:fn answers with the named adapter, homecoder with the base; alternating requests stay correct', async () => {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ollama = new Ollama({ host: serve.url });
    const ask = (model: string) =>
      client.chat.completions.create({ model, messages: MESSAGES, max_tokens: N }).then((r) => r.choices[0].message.content);
    for (const model of ['homecoder:fn', 'homecoder', 'homecoder:fn', 'homecoder'])
      expect(await ask(model), model).toBe(model === 'homecoder' ? expected.base : expected.fn);
    expect((await ollama.chat({ model: 'homecoder:fn', messages: MESSAGES, options: { num_predict: N } })).message.content).toBe(
      expected.fn,
    );
    // Concurrent requests from several editors for both: each gets its own model's answer.
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        fetch(`${serve.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-homecoder-client': `editor-${i}` },
          body: JSON.stringify({ model: i % 2 ? 'homecoder:fn' : 'homecoder', messages: MESSAGES, max_tokens: N }),
        }).then(async (r) => ((await r.json()) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content),
      ),
    );
    for (const [i, a] of answers.entries()) expect(a, `request ${i}`).toBe(i % 2 ? expected.fn : expected.base);
  });

  it('serve --no-merge answers with the adapter unmerged (the engine’s LoRA products)', async () => {
    const unmerged = await startServe(['--model', modelDir, '--context', '256', '--named-adapter', `fn=${adapterDir}`, '--no-merge']);
    try {
      const client = new OpenAI({ baseURL: `${unmerged.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const r = await client.chat.completions.create({ model: 'homecoder:fn', messages: MESSAGES, max_tokens: N });
      expect(r.choices[0].message.content).toBe(expected.fnUnmerged);
      expect(expected.fnUnmerged).not.toBe(expected.base);
    } finally {
      await unmerged.stop();
    }
  });

  it('a message too long for the context is a 400 that says so; a long conversation loses its oldest turns and still answers', async () => {
    const post = (body: object) =>
      fetch(`${serve.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ max_tokens: N, ...body }),
      });
    const huge = await post({ messages: [{ role: 'user', content: 'x = 1\n'.repeat(400) }] });
    expect(huge.status).toBe(400);
    expect(await huge.text()).toMatch(/context leaves \d+ for the prompt: send a shorter message/);
    const old = Array.from({ length: 20 }, (_, i) => [
      { role: 'user', content: `question ${i} `.repeat(4) },
      { role: 'assistant', content: `answer ${i} `.repeat(4) },
    ]).flat();
    const long = await post({ messages: [MESSAGES[0], ...old, MESSAGES[1]] });
    expect(long.status).toBe(200);
    // The prompt fits beside the answer's room (context 256 less max_tokens), and the answer comes.
    const body = (await long.json()) as { usage: { prompt_tokens: number }; choices: Array<{ finish_reason: string }> };
    expect(body.usage.prompt_tokens).toBeGreaterThan(100);
    expect(body.usage.prompt_tokens).toBeLessThanOrEqual(256 - N);
    expect(body.choices[0].finish_reason).toMatch(/^(stop|length)$/);
  });

  it('an unknown model name is a 404 listing the names', async () => {
    const r = await fetch(`${serve.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'homecoder:other', messages: MESSAGES }),
    });
    expect(r.status).toBe(404);
    expect(await r.text()).toMatch(/homecoder, homecoder:fn/);
  });
});
