// The remembered serving choice (OPFS homecoder-serving.json): read back as written; a damaged
// or foreign file restores nothing instead of failing the engine worker's start.
import { describe, expect, it } from 'vitest';
import { parseRemembered } from '../../src/serve/serving-memory.ts';

describe('remembered serving', () => {
  it('reads back what was written', () => {
    const r = {
      modelId: 'test--tiny',
      choice: { adapters: [{ id: 'runs/a/checkpoints/step-000004', weight: 0.8 }], combination: 'cat' as const },
    };
    expect(parseRemembered(JSON.stringify(r))).toEqual(r);
  });
  it('anything else restores nothing', () => {
    for (const bad of [
      '',
      '{',
      'null',
      '[]',
      '{"modelId":""}',
      '{"modelId":"m","choice":{"adapters":"x","combination":"cat"}}',
      '{"modelId":"m","choice":{"adapters":[],"combination":"sum"}}',
      '{"modelId":"m","choice":{"adapters":[{"id":1,"weight":1}],"combination":"cat"}}',
      '{"modelId":"m","choice":{"adapters":[{"id":"a","weight":"1"}],"combination":"linear"}}',
      '{"modelId":7,"choice":{"adapters":[],"combination":"cat"}}',
    ])
      expect(parseRemembered(bad), bad).toBeUndefined();
  });
});
