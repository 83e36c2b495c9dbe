// Chat for inference without a GPU: the tiny Qwen-style fixture's template rendered through
// the real tokenizer and @huggingface/jinja, the stops, dropping old turns, the checks on
// messages and model names, and the names stored adapters get.
import { describe, expect, it } from 'vitest';
import { Template } from '@huggingface/jinja';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { makeTinyTokenizer, TINY_CHAT_TEMPLATE } from '../../src/model/fixtures/tiny-tokenizer.ts';
import { buildChatPrompt, chatMessagesProblem, chatStopIds, MAX_CHAT_MESSAGES, renderChatPrompt } from '../../src/serve/chat.ts';
import { adapterForModel, modelNames, storedAdapterNames } from '../../src/serve/model-names.ts';
import { CompletionError } from '../../src/serve/errors.ts';
import { chatTemplateOf } from '../../src/data/dataset/chat.ts';
import { parseBridgeToTab, parseTabToBridge } from '../../src/serve/tab-protocol.ts';

const chatTok = () => {
  const t = makeTinyTokenizer(56, false, true);
  return new ModelTokenizer(t.tokenizerJson, t.tokenizerConfig);
};

describe('chat prompts', () => {
  it('renders the Qwen-style template with the generation prompt, and its turn markers are single tokens', () => {
    const tok = chatTok();
    const text = renderChatPrompt(tok, [{ role: 'user', content: 'def f():' }]);
    expect(text).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\ndef f():<|im_end|>\n<|im_start|>assistant\n',
    );
    // The same text as the template rendered on its own.
    expect(text).toBe(
      new Template(TINY_CHAT_TEMPLATE).render({
        messages: [{ role: 'user', content: 'def f():' }],
        add_generation_prompt: true,
        bos_token: '',
        eos_token: '<|endoftext|>',
      }),
    );
    const ids = tok.encode(text);
    expect(ids[0]).toBe(tok.tokenId('<|im_start|>'));
    expect(ids.filter((i) => i === tok.tokenId('<|im_end|>'))).toHaveLength(2);
    const system = renderChatPrompt(tok, [
      { role: 'system', content: 'Reverse the word.' },
      { role: 'user', content: 'abc' },
    ]);
    expect(system.startsWith('<|im_start|>system\nReverse the word.<|im_end|>\n<|im_start|>user\nabc')).toBe(true);
  });

  it('stops on EOS and the end of a turn', () => {
    const tok = chatTok();
    const stops = chatStopIds(tok, tok.eos);
    expect(stops).toContain(tok.tokenId('<|im_end|>'));
    expect(stops).toContain(tok.tokenId('<|endoftext|>'));
  });

  it('a model without a chat template is a typed error that says what to use', () => {
    const t = makeTinyTokenizer();
    const tok = new ModelTokenizer(t.tokenizerJson, t.tokenizerConfig);
    expect(tok.chatTemplate).toBeUndefined();
    let err: unknown;
    try {
      renderChatPrompt(tok, [{ role: 'user', content: 'hi' }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompletionError);
    expect((err as CompletionError).code).toBe('NO_CHAT_TEMPLATE');
    expect((err as Error).message).toMatch(/instruct model.*\/v1\/completions/);
  });

  it("a template's raise_exception (roles that must alternate…) is a 400-class error with the template's words", () => {
    const t = makeTinyTokenizer();
    const tok = new ModelTokenizer(t.tokenizerJson, {
      ...t.tokenizerConfig,
      chat_template: "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok",
    });
    expect(renderChatPrompt(tok, [{ role: 'user', content: 'x' }])).toBe('ok');
    expect(() =>
      renderChatPrompt(tok, [
        { role: 'system', content: 's' },
        { role: 'user', content: 'x' },
      ]),
    ).toThrow(/chat template refused these messages: .*System role not supported/);
  });

  it('the training side reads the same template (one lookup for both)', () => {
    expect(chatTemplateOf(makeTinyTokenizer(56, false, true).tokenizerConfig)).toBe(TINY_CHAT_TEMPLATE);
    expect(chatTemplateOf({ chat_template: [{ name: 'default', template: 'x' }] })).toBe('x');
  });

  it('drops the oldest turns to fit, keeping the system prompt; the last message alone too long is an error', () => {
    const tok = chatTok();
    const turns = [
      { role: 'system' as const, content: 'sys' },
      { role: 'user' as const, content: 'first question '.repeat(20) },
      { role: 'assistant' as const, content: 'first answer '.repeat(20) },
      { role: 'user' as const, content: 'last' },
    ];
    const full = buildChatPrompt(tok, turns, 10_000);
    expect(full.truncated).toBe(false);
    const short = buildChatPrompt(tok, turns, 40);
    expect(short.truncated).toBe(true);
    expect(short.ids.length).toBeLessThanOrEqual(40);
    const text = tok.decode(short.ids);
    expect(text).toContain('sys');
    expect(text).toContain('last');
    expect(text).not.toContain('first question');
    expect(() => buildChatPrompt(tok, [{ role: 'user', content: 'long '.repeat(100) }], 20)).toThrow(/shorter message/);
  });

  it('malformed messages are named: not a list, empty, wrong roles, non-text content, the assistant last, too many', () => {
    expect(chatMessagesProblem(undefined)).toMatch(/non-empty list/);
    expect(chatMessagesProblem([])).toMatch(/non-empty list/);
    expect(chatMessagesProblem('hi')).toMatch(/non-empty list/);
    expect(chatMessagesProblem([null])).toMatch(/messages\[0\] must be an object/);
    expect(chatMessagesProblem([{ role: 'wizard', content: 'x' }])).toMatch(/messages\[0\]\.role must be one of system, user, assistant/);
    expect(chatMessagesProblem([{ role: 'user', content: 3 }])).toMatch(/messages\[0\]\.content must be a string/);
    expect(chatMessagesProblem([{ role: 'user' }])).toMatch(/content must be a string/);
    expect(
      chatMessagesProblem([
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
      ]),
    ).toMatch(/last message/);
    expect(chatMessagesProblem(Array.from({ length: MAX_CHAT_MESSAGES + 1 }, () => ({ role: 'user', content: 'a' })))).toMatch(/at most/);
    expect(
      chatMessagesProblem([
        { role: 'system', content: 's' },
        { role: 'user', content: 'u' },
      ]),
    ).toBeUndefined();
  });
});

describe('model names', () => {
  it('homecoder is the default, homecoder:<name> a named adapter, an unknown homecoder:<name> an error listing the names', () => {
    expect(modelNames(['fn', 'run-1-best'])).toEqual(['homecoder', 'homecoder:fn', 'homecoder:run-1-best']);
    expect(adapterForModel(undefined, ['fn'])).toBeUndefined();
    expect(adapterForModel('homecoder', ['fn'])).toBeUndefined();
    expect(adapterForModel('homecoder:latest', ['fn'])).toBeUndefined();
    expect(adapterForModel('homecoder:fn', ['fn'])).toBe('fn');
    expect(adapterForModel('fn', ['fn'])).toBe('fn');
    expect(adapterForModel('gpt-4o', ['fn'])).toBeUndefined(); // an editor's own label: the default, as before
    expect(() => adapterForModel('homecoder:nope', ['fn'])).toThrow(/No model is called "homecoder:nope".*homecoder, homecoder:fn/);
  });

  it('stored adapters are named by run (best and each step) or label', () => {
    const names = storedAdapterNames([
      { id: 'runs/r1/checkpoint-200', label: 'r1 step 200', meta: { run: 'r1', step: 200, best: true } },
      { id: 'runs/r1/checkpoint-100', label: 'r1 step 100', meta: { run: 'r1', step: 100 } },
      { id: 'imported/doc strings', label: 'doc strings', meta: {} },
      { id: 'imported/latest', label: 'latest', meta: {} },
    ]);
    expect(Object.fromEntries(names)).toEqual({
      'r1-best': 'runs/r1/checkpoint-200',
      'r1-step-200': 'runs/r1/checkpoint-200',
      'r1-step-100': 'runs/r1/checkpoint-100',
      'doc-strings': 'imported/doc strings',
    });
  });
});

describe('the tab protocol carries chat', () => {
  const base = { maxTokens: 8, temperature: 0, topP: 1, topK: 0, stop: [] };
  const complete = (request: object) => JSON.stringify({ type: 'complete', id: 1, request: { ...base, ...request } });

  it('a chat request with an adapter name passes; malformed messages, roles or names do not', () => {
    expect(parseBridgeToTab(complete({ messages: [{ role: 'user', content: 'x' }], adapter: 'fn' })).ok).toBe(true);
    for (const bad of [
      { messages: [] },
      { messages: 'x' },
      { messages: [{ role: 'root', content: 'x' }] },
      { messages: [{ role: 'user', content: null }] },
      { messages: [{ role: 'user', content: 'x' }], adapter: '../x' },
      { messages: [{ role: 'user', content: 'x' }], adapter: 3 },
    ])
      expect(parseBridgeToTab(complete(bad)).ok, JSON.stringify(bad)).toBe(false);
  });

  it('serving info with names and chat, and errors with a code, pass; malformed ones do not', () => {
    const info = { model: 'homecoder', base: 'b', adapters: [], contextLength: 8, parameters: 1 };
    expect(parseTabToBridge(JSON.stringify({ type: 'serving', info: { ...info, named: ['run-1-best'], chat: true } })).ok).toBe(true);
    expect(parseTabToBridge(JSON.stringify({ type: 'serving', info: { ...info, named: [1] } })).ok).toBe(false);
    expect(parseTabToBridge(JSON.stringify({ type: 'error', id: 1, message: 'm', code: 'UNKNOWN_MODEL' })).ok).toBe(true);
    expect(parseTabToBridge(JSON.stringify({ type: 'error', id: 1, message: 'm', code: 42 })).ok).toBe(false);
  });
});
