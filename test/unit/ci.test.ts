// CI=true turns a GPU or browser suite that would be skipped into a failed run (test/helpers/ci.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { isCi, skipOrFailInCi } from '../helpers/ci.ts';

describe('CI mode of the test suites', () => {
  const saved = process.env.CI;
  afterEach(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  });

  it('reads CI as most CI services set it', () => {
    expect(['true', '1', 'TRUE', 'yes'].map((CI) => isCi({ CI }))).toEqual([true, true, true, true]);
    expect([undefined, '', '0', 'false', 'False'].map((CI) => isCi({ CI }))).toEqual([false, false, false, false, false]);
  });

  it('fails a suite that would be skipped when CI is set, and only reports it otherwise', () => {
    process.env.CI = 'true';
    expect(() => skipOrFailInCi('gpu', 'no driver')).toThrow('[gpu tests] CI is set, so these tests must run, but they cannot: no driver');
    process.env.CI = 'false';
    expect(() => skipOrFailInCi('gpu', 'no driver')).not.toThrow();
  });
});
