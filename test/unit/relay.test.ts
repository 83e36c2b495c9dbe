// The relay's scheduling with a scripted backend (a test double: the real backends are
// exercised in test/gpu/serve-clients.test.ts and test/e2e/use.test.ts): one generation at
// a time, round-robin across clients, a newer request from a client supersedes its older
// ones without jumping the queue, a disconnect cancels, and nothing is left behind.
import { describe, expect, it } from 'vitest';
import { ADAPTER_BATCH, Relay, RelayError, type Backend } from '../../src/bridge/relay.ts';
import type { CompletionRequest, CompletionResult } from '../../src/serve/types.ts';

class ScriptedBackend implements Backend {
  readonly kind = 'headless' as const;
  order: string[] = [];
  concurrent = 0;
  maxConcurrent = 0;
  info() {
    return { model: 'homecoder', base: 'test', adapters: [], contextLength: 64, parameters: 1 };
  }
  active() {
    return this.concurrent;
  }
  async complete(req: CompletionRequest, opts: { signal: AbortSignal; onText: (d: string) => void }): Promise<CompletionResult> {
    this.order.push(req.prompt!);
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    let text = '';
    try {
      for (let i = 0; i < 5; i++) {
        if (opts.signal.aborted) return result(text, 'cancelled');
        await new Promise((r) => setTimeout(r, 4));
        text += 'x';
        opts.onText('x');
      }
      return result(text, 'length');
    } finally {
      this.concurrent--;
    }
  }
}

function result(text: string, finishReason: CompletionResult['finishReason']): CompletionResult {
  return {
    text,
    finishReason,
    promptTokens: 1,
    completionTokens: text.length,
    reusedTokens: 0,
    truncated: false,
    prefillMs: 0,
    decodeMs: 0,
  };
}

const req = (prompt: string): CompletionRequest => ({ prompt, maxTokens: 5, temperature: 0, topP: 1, topK: 0, stop: [] });

describe('relay', () => {
  it('serves one at a time, round-robin across clients; a newer request supersedes without jumping the queue', async () => {
    const relay = new Relay(() => 'no backend');
    const b = new ScriptedBackend();
    relay.attach(b);
    const live = new AbortController();
    const sub = (client: string, p: string) => relay.submit(client, '/x', req(p), { signal: live.signal, onText: () => {} });
    const a1 = sub('A', 'a1');
    const b1 = sub('B', 'b1');
    const c1 = sub('C', 'c1');
    await new Promise((r) => setTimeout(r, 6)); // a1 is running
    const a2 = sub('A', 'a2'); // supersedes a1, queued behind B and C
    const [ra1, rb1, rc1, ra2] = await Promise.all([a1, b1, c1, a2]);
    expect(ra1.finishReason).toBe('cancelled');
    expect(ra1.text.length).toBeLessThan(5);
    expect([rb1, rc1, ra2].map((r) => r.finishReason)).toEqual(['length', 'length', 'length']);
    expect(b.order).toEqual(['a1', 'b1', 'c1', 'a2']);
    expect(b.maxConcurrent).toBe(1);
    expect(relay.stats()).toMatchObject({ queued: 0, running: 0, backendActive: 0 });
  });

  it('a queued request whose client disconnects is answered cancelled and never reaches the backend', async () => {
    const relay = new Relay(() => 'no backend');
    const b = new ScriptedBackend();
    relay.attach(b);
    const first = relay.submit('A', '/x', req('a'), { signal: new AbortController().signal, onText: () => {} });
    const gone = new AbortController();
    const second = relay.submit('B', '/x', req('b'), { signal: gone.signal, onText: () => {} });
    gone.abort();
    expect((await second).finishReason).toBe('cancelled');
    expect((await first).finishReason).toBe('length');
    expect(b.order).toEqual(['a']);
    expect(
      relay
        .stats()
        .log.map((e) => e.status)
        .sort(),
    ).toEqual(['cancelled', 'ok']);
  });

  it('without a backend says so (503); a detached backend stops serving', () => {
    const relay = new Relay((b) => (b ? 'load a model' : 'open the app'));
    expect(() => relay.submit('A', '/x', req('a'), { signal: new AbortController().signal, onText: () => {} })).toThrow(RelayError);
    const detach = relay.attach(new ScriptedBackend());
    detach();
    expect(() => relay.submit('A', '/x', req('a'), { signal: new AbortController().signal, onText: () => {} })).toThrow(/^open the app$/);
  });

  it('queues by adapter: jobs for the adapter on now go first, at most ADAPTER_BATCH in a row while another waits', async () => {
    const relay = new Relay(() => 'no backend');
    const b = new ScriptedBackend();
    relay.attach(b);
    const sub = (client: string, p: string, adapter?: string) =>
      relay.submit(
        client,
        '/x',
        { ...req(p), ...(adapter ? { adapter } : {}) },
        { signal: new AbortController().signal, onText: () => {} },
      );
    const jobs = [sub('A', 'a-fn', 'fn')];
    await new Promise((r) => setTimeout(r, 6)); // a-fn runs: fn is on
    // Clients alternate between the base and fn; round-robin alone would switch at every job.
    for (let i = 0; i < 6; i++) jobs.push(sub(`C${i}`, `${i % 2 ? 'fn' : 'base'}${i}`, i % 2 ? 'fn' : undefined));
    await Promise.all(jobs);
    expect(b.order).toEqual(['a-fn', 'fn1', 'fn3', 'fn5', 'base0', 'base2', 'base4']);
    // A long run of one adapter yields after ADAPTER_BATCH jobs.
    b.order = [];
    const hold = sub('H', 'h-fn', 'fn');
    await new Promise((r) => setTimeout(r, 6));
    const more = [sub('W', 'wait-base')];
    for (let i = 0; i < ADAPTER_BATCH + 2; i++) more.push(sub(`F${i}`, `f${i}`, 'fn'));
    await Promise.all([hold, ...more]);
    expect(b.order.indexOf('wait-base')).toBe(ADAPTER_BATCH);
  });
});
