// `homecoder dataset` as a user runs it: code, pairs (JSONL and CSV) and conversations (a
// folder) from one set of flags; JSON lines whose loss masks cover the answers only; bad lines
// on stderr by line number; exactly the tokens the run's dataset builder packs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliAsync } from '../helpers/cli.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { datasetInputs, openTextModel, type DocumentJson } from '../../src/train/dataset-preview.ts';
import { buildDataset } from '../../src/data/dataset/build.ts';
import { readSupervisedPaths } from '../../src/data/node-supervised.ts';
import { importAndFilter } from '../../src/data/node-pipeline.ts';

let dir: string;
const at = (p: string) => join(dir, p);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-cli-dataset-'));
  expect(runCli('make-tiny-model', '--instruct', '--out', at('instruct')).status).toBe(0);
  expect(runCli('make-tiny-model', '--out', at('base')).status).toBe(0);
  mkdirSync(at('code'));
  for (const [n, body] of [
    ['a.py', 'def add(a, b):\n    return a + b\n'],
    ['b.py', 'class Point:\n    def __init__(self, x):\n        self.x = x\n'],
    ['c.js', 'function main() {\n  return 1;\n}\n'],
  ])
    writeFileSync(at(`code/${n}`), body);
  writeFileSync(
    at('pairs.jsonl'),
    [
      '{"prompt":"Reverse: stone","completion":"enots"}',
      '{"prompt":"Reverse: lamp"}',
      '{"input":"Reverse: main","output":"niam"}',
      '{broken',
      '{"prompt":"Reverse: river","completion":"revir"}',
    ].join('\n'),
  );
  writeFileSync(at('qa.csv'), 'id,q,a\n1,"Reverse: ""dog""",god\n2,Reverse: cat,\n3,"Reverse:\nself",fles\n');
  mkdirSync(at('chats'));
  writeFileSync(
    at('chats/one.jsonl'),
    '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Bye"},{"role":"assistant","content":"Bye then"}]}\n{"messages":[{"role":"user","content":"no answer"}]}\n',
  );
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FLAGS = () => [
  '--source',
  at('code'),
  '--pairs',
  at('pairs.jsonl'),
  '--pairs',
  at('qa.csv'),
  '--prompt-column',
  'q',
  '--completion-column',
  'a',
  '--chat',
  at('chats'),
  '--seed',
  '7',
  '--fim-rate',
  '0.5',
];
const lines = (stdout: string): DocumentJson[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('homecoder dataset', { timeout: 60_000 }, () => {
  it('prints every document with its loss mask; answers (and <|im_end|>) carry the loss; bad lines by number', async () => {
    const r = await runCliAsync('dataset', '--model', at('instruct'), ...FLAGS());
    expect(r.status).toBe(0);
    const docs = lines(r.stdout);
    const m = await openTextModel(nodeFiles(at('instruct')));
    const kinds = docs.map((d) => d.kind);
    expect(kinds.filter((k) => k === 'pair')).toHaveLength(5); // 3 JSONL + 2 CSV
    expect(kinds.filter((k) => k === 'chat')).toHaveLength(1);
    expect(docs.filter((d) => d.source.startsWith('code/'))).toHaveLength(3);
    const answers: Record<string, string> = {
      [`${at('pairs.jsonl')}:1`]: 'enots',
      [`${at('pairs.jsonl')}:3`]: 'niam',
      [`${at('pairs.jsonl')}:5`]: 'revir',
      [`${at('qa.csv')}:2`]: 'god',
      [`${at('qa.csv')}:4`]: 'fles',
    };
    for (const d of docs) {
      expect(d.loss_mask).toHaveLength(d.ids.length);
      expect(d.text).toBe(m.tokenizer.decode(d.ids));
      const trained = m.tokenizer.decode(d.ids.filter((_, i) => d.loss_mask[i]));
      if (d.kind === 'pair') {
        expect(trained).toBe(`${answers[d.source]}<|im_end|>`);
        expect(d.text).toContain('<|im_start|>user\nReverse:');
      }
      if (d.kind === 'chat') expect(trained).toBe('Hello<|im_end|>Bye then<|im_end|>');
    }
    expect(r.stderr).toContain(`skipped ${at('pairs.jsonl')} line 2: "completion" is missing`);
    expect(r.stderr).toContain(`skipped ${at('pairs.jsonl')} line 4: not JSON`);
    expect(r.stderr).toContain(`skipped ${at('qa.csv')} line 3: column "a" is empty`);
    expect(r.stderr).toContain(`skipped ${join(at('chats'), 'one.jsonl')} line 2: no assistant message`);
    expect(r.stderr).toMatch(/4 bad lines skipped/);
  });

  it('is exactly what the run packs: the train documents in order are the dataset builder’s train tokens', async () => {
    const r = await runCliAsync('dataset', '--model', at('instruct'), ...FLAGS());
    const docs = lines(r.stdout);
    const m = await openTextModel(nodeFiles(at('instruct')));
    const files = (await importAndFilter([at('code')])).accepted;
    // In another order than the flags: the dataset does not depend on it.
    const supervised = await readSupervisedPaths([at('pairs.jsonl'), at('qa.csv'), at('chats')], { prompt: 'q', completion: 'a' });
    const inputs = datasetInputs(m, { seed: 7, fimRate: 0.5 }, supervised);
    const built = await buildDataset(files, m.tokenizer, inputs.dataset, { supervised: inputs.supervised });
    const train = docs.filter((d) => d.split === 'train');
    expect([...built.train.ids]).toEqual(train.flatMap((d) => d.ids));
    expect([...built.train.mask]).toEqual(train.flatMap((d) => d.loss_mask));
    expect([...built.test.ids]).toEqual(docs.filter((d) => d.split === 'test').flatMap((d) => d.ids));
    expect(built.stats).toMatchObject({ pairs: 5, chats: 1, badLines: 4 });
    // The same flags, the same documents.
    expect((await runCliAsync('dataset', '--model', at('instruct'), ...FLAGS())).stdout).toBe(r.stdout);
  });

  it('--limit, --split and --all-tokens', async () => {
    const r = runCli('dataset', '--model', at('instruct'), ...FLAGS(), '--limit', '2');
    expect(lines(r.stdout)).toHaveLength(2);
    const test = lines(runCli('dataset', '--model', at('instruct'), ...FLAGS(), '--split', 'test').stdout);
    expect(test.length).toBeGreaterThan(0);
    expect(test.every((d) => d.split === 'test')).toBe(true);
    const all = lines(runCli('dataset', '--model', at('instruct'), '--chat', at('chats'), '--all-tokens').stdout);
    expect(all).toHaveLength(1);
    expect(all[0].loss_mask.every((x) => x === 1)).toBe(true);
  });

  it('a base model: pairs are prompt + completion + EOS; conversations need a chat template', () => {
    const r = runCli('dataset', '--model', at('base'), '--pairs', at('pairs.jsonl'));
    expect(r.status).toBe(0);
    const d = lines(r.stdout).find((x) => x.source.endsWith(':1'))!;
    expect(d.text).toBe('Reverse: stoneenots<|endoftext|>');
    const tok = JSON.parse(readFileSync(at('base/tokenizer.json'), 'utf8')) as { added_tokens: Array<{ id: number; content: string }> };
    const eos = tok.added_tokens.find((t) => t.content === '<|endoftext|>')!.id;
    expect(d.ids.at(-1)).toBe(eos);
    expect(d.loss_mask.at(-1)).toBe(1);
    expect(d.loss_mask[0]).toBe(0);
    const chat = runCli('dataset', '--model', at('base'), '--chat', at('chats'));
    expect(chat.status).not.toBe(0);
    expect(chat.stderr).toMatch(/NO_CHAT_TEMPLATE|no chat template/);
  });

  it('a missing file and half-named CSV columns are clear errors', () => {
    const r = runCli('dataset', '--model', at('instruct'), '--pairs', at('nope.jsonl'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/nope\.jsonl does not exist/);
    const c = runCli('dataset', '--model', at('instruct'), '--pairs', at('qa.csv'), '--prompt-column', 'q');
    expect(c.status).not.toBe(0);
    expect(c.stderr).toMatch(/--prompt-column and --completion-column go together/);
  });
});
