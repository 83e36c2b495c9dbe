// The real `openai` and `ollama` npm clients against `homecoder serve` on a tiny generated
// model: fill-in-the-middle with `suffix`, streaming and not. The text must equal the
// engine's own greedy decode of the same FIM prompt (built here from token ids, decoded
// here with the decoder in this process).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { loadNodeModel, type NodeModel } from '../../src/cli/open-model.ts';
import { Decoder } from '../../src/gpu/decoder.ts';
import { stopTokenIds } from '../../src/serve/fim.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { greedyIds } from '../helpers/greedy.ts';
import { startServe, writeTinyModel, type RunningServe } from '../helpers/serve.ts';
import { openTab } from '../helpers/tab-client.ts';

const PREFIX = 'def add(a, b):\n    result = ';
const SUFFIX = '\n    return result\n';
const N = 24;

/** Editors send JSON bodies as application/json (the bridge refuses other types on POST). */
const JSON_BODY = { 'content-type': 'application/json' };
describe.skipIf(!!gpuSkipReason)(`editor clients against homecoder serve${skipNote}`, () => {
  let dir: string;
  let serve: RunningServe;
  let engine: NodeModel;
  let expected: string;

  beforeAll(async () => {
    dir = writeTinyModel({ seed: 3, layers: 2, hidden: 64 });
    serve = await startServe(['--model', dir, '--context', '256']);
    engine = await loadNodeModel(dir);
    const tok = engine.tokenizer;
    const fim = tok.fim!;
    const ids = [fim.prefix, ...tok.encode(PREFIX), fim.suffix, ...tok.encode(SUFFIX), fim.middle];
    const decoder = new Decoder(engine.memory, engine.model, { contextLength: 256 });
    const stops = new Set(stopTokenIds(tok, engine.opened.config.eosTokenId));
    const out = await greedyIds(decoder, ids, N, stops);
    expected = tok.decode(out, { skipSpecial: true });
    expect(out.length).toBeGreaterThan(2);
  });
  afterAll(async () => {
    await serve?.stop();
    engine?.close();
  });

  it('openai: completions with suffix, plain and streamed, equal the greedy decode', async () => {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.completions.create({ model: 'homecoder', prompt: PREFIX, suffix: SUFFIX, max_tokens: N, temperature: 0 });
    expect(r.choices[0].text).toBe(expected);
    expect(r.object).toBe('text_completion');
    const stream = await client.completions.create({
      model: 'homecoder',
      prompt: PREFIX,
      suffix: SUFFIX,
      max_tokens: N,
      temperature: 0,
      stream: true,
    });
    let text = '';
    let chunks = 0;
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0].text;
      chunks++;
      finish = c.choices[0].finish_reason ?? finish;
    }
    expect(text).toBe(expected);
    expect(chunks).toBeGreaterThan(2);
    expect(finish).toMatch(/stop|length/);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('homecoder');
  });

  it('ollama: generate with suffix, plain and streamed, equal the greedy decode; show says FIM', async () => {
    const ollama = new Ollama({ host: serve.url });
    const r = await ollama.generate({ model: 'homecoder', prompt: PREFIX, suffix: SUFFIX, options: { num_predict: N, temperature: 0 } });
    expect(r.response).toBe(expected);
    expect(r.done).toBe(true);
    const stream = await ollama.generate({
      model: 'homecoder',
      prompt: PREFIX,
      suffix: SUFFIX,
      stream: true,
      options: { num_predict: N, temperature: 0 },
    });
    let text = '';
    let last: { done: boolean; eval_count: number } | undefined;
    for await (const part of stream) {
      text += part.response;
      last = part;
    }
    expect(text).toBe(expected);
    expect(last?.done).toBe(true);
    expect(last?.eval_count).toBeGreaterThan(0);
    const show = await ollama.show({ model: 'homecoder' });
    expect(show.template).toContain('.Suffix');
    expect(show.capabilities).toContain('insert');
    expect((await ollama.list()).models[0].name).toMatch(/^homecoder/);
    expect((await ollama.version()).version).toMatch(/^\d+\.\d+/);
  });

  it('no app tab attaches to `homecoder serve` without --allow-tab, even with the cookie', async () => {
    expect(await openTab(serve.url, { cookie: serve.cookie })).toBe(403);
    expect(serve.output()).toMatch(/running at http:\/\/127\.0\.0\.1:\d+\/\?token=/);
  });

  it('llama.cpp /infill answers compact JSON that llama.vim parses; raw FIM prompts of any family give the same text', async () => {
    const res = await fetch(`${serve.url}/infill`, {
      method: 'POST',
      headers: JSON_BODY,
      body: JSON.stringify({ input_prefix: PREFIX, input_suffix: SUFFIX, n_predict: N, t_max_predict_ms: 60_000, stream: false }),
    });
    const raw = await res.text();
    expect(raw).toMatch(/^\s*{/);
    expect(raw).toMatch(/"content"\s*:"/);
    expect(raw).not.toMatch(/": /);
    expect((JSON.parse(raw) as { content: string }).content).toBe(expected);
    // llm-vscode templates the prompt itself (StarCoder tokens by default): recognised, re-written for this model.
    const tgi = await fetch(`${serve.url}/generate`, {
      method: 'POST',
      headers: JSON_BODY,
      body: JSON.stringify({ inputs: `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`, parameters: { max_new_tokens: N } }),
    });
    expect(((await tgi.json()) as { generated_text: string }).generated_text).toBe(expected);
    const tabby = await fetch(`${serve.url}/v1/completions`, {
      method: 'POST',
      headers: JSON_BODY,
      body: JSON.stringify({ language: 'python', segments: { prefix: PREFIX, suffix: SUFFIX } }),
    });
    const tj = (await tabby.json()) as { id: string; choices: Array<{ index: number; text: string }> };
    expect(tj.id).toMatch(/^cmpl-/);
    expect(tj.choices[0].text.startsWith(expected.slice(0, 8))).toBe(true);
    const health = await fetch(`${serve.url}/v1/health`);
    expect(((await health.json()) as { version: { git_describe: string } }).version.git_describe).toBeTruthy();
  });

  it('50 concurrent requests from 10 editors with supersedes and disconnects: each answered or cancelled, the backend idle after', async () => {
    const clients = 10;
    const jobs = Array.from({ length: 50 }, (_, i) => {
      const ctl = new AbortController();
      const disconnect = i % 7 === 3;
      if (disconnect) setTimeout(() => ctl.abort(), 20 + 10 * i);
      const stream = i % 2 === 0;
      return fetch(`${serve.url}/v1/completions`, {
        method: 'POST',
        headers: { ...JSON_BODY, 'x-homecoder-client': `editor-${i % clients}` },
        body: JSON.stringify({ prompt: `${PREFIX}${i}`, suffix: SUFFIX, max_tokens: 12, stream }),
        signal: ctl.signal,
      }).then(async (r) => {
        const body = await r.text();
        const finish = stream
          ? /"finish_reason":"(\w+)"[^\n]*\n\ndata: \[DONE\]/.exec(body)?.[1]
          : (JSON.parse(body) as { choices: Array<{ finish_reason: string }> }).choices[0].finish_reason;
        return { i, status: r.status, finish, disconnect };
      });
    });
    const settled = await Promise.allSettled(jobs);
    const answered = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [i] : []));
    // Only clients that hung up themselves get no answer.
    for (const i of failed) expect(i % 7, `request ${i} failed without being aborted`).toBe(3);
    for (const a of answered) {
      expect(a.status).toBe(200);
      expect(a.finish).toMatch(/^(stop|length|cancelled)$/);
    }
    const cancelled = answered.filter((a) => a.finish === 'cancelled').length;
    expect(cancelled).toBeGreaterThan(10); // superseded by the same editor's newer request
    // The newest request of each editor is never superseded: it completes (unless it hung up).
    for (let c = 0; c < clients; c++) {
      const last = answered.filter((a) => a.i % clients === c && !a.disconnect).sort((x, y) => y.i - x.i)[0];
      if (last && last.i >= 40) expect(last.finish, `editor ${c}`).not.toBe('cancelled');
    }
    // Nothing leaks: the queue, the relay and the backend are idle.
    let status = { queued: -1, running: -1, backendActive: -1, log: [] as Array<{ status: string }> };
    for (let t = 0; t < 100; t++) {
      status = (await (await fetch(`${serve.url}/bridge/status`, { headers: { cookie: serve.cookie } })).json()) as typeof status;
      if (status.queued === 0 && status.running === 0 && status.backendActive === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toMatchObject({ queued: 0, running: 0, backendActive: 0 });
    expect(status.log.some((e) => e.status === 'cancelled')).toBe(true);
    // Still serving correctly afterwards.
    const r = await fetch(`${serve.url}/infill`, {
      method: 'POST',
      headers: JSON_BODY,
      body: JSON.stringify({ input_prefix: PREFIX, input_suffix: SUFFIX, n_predict: N }),
    });
    expect(((await r.json()) as { content: string }).content).toBe(expected);
  });
});
