// Run settings without a GPU: validation with clear errors, Refact's automatic length,
// the learning-rate schedule, the data order (a function of seed and step only), and the
// memory check on a real-size config with the suggestion that fits.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/model/config.ts';
import qwen15Json from '../../src/model/configs/Qwen2.5-Coder-1.5B.json';
import { autoSteps, validateSettings, SettingsError, DEFAULT_SETTINGS, SETTING_HELP } from '../../src/train/settings.ts';
import { describeSchedule, effectiveSchedule, learningRate } from '../../src/train/schedule.ts';
import { checkMemory } from '../../src/train/memory-check.ts';
import { planMemory } from '../../src/gpu/planner.ts';
import { BlockSampler } from '../../src/train/sampler.ts';
import { TokenStream } from '../../src/data/dataset/pack.ts';

const qwen15 = parseConfig(qwen15Json);
const GiB = 2 ** 30;

describe('settings', () => {
  it('every setting has a default and a line of help', () => {
    for (const k of Object.keys(DEFAULT_SETTINGS)) expect(SETTING_HELP[k as keyof typeof SETTING_HELP]).toMatch(/\w/);
    expect(validateSettings({})).toEqual(DEFAULT_SETTINGS);
  });
  it('bad values are typed errors naming the setting', () => {
    expect(() => validateSettings({ batchSize: 0 })).toThrow(SettingsError);
    expect(() => validateSettings({ seqLen: 40000 }, 32768)).toThrow(/seqLen must be at most 32768/);
    expect(() => validateSettings({ lr: Number.NaN })).toThrow(/lr/);
    expect(() => validateSettings({ targets: [] })).toThrow(/targets/);
  });
  it("automatic steps follow Refact's rule: epochs by size, at least 50, a multiple of 50", () => {
    expect(autoSteps(10, 8)).toBe(100); // 50 epochs · 10 / 8 = 62.5 → 100
    expect(autoSteps(1, 8)).toBe(50);
    expect(autoSteps(2000, 8)).toBe(8750); // 35 epochs
    expect(autoSteps(40000, 128)).toBe(950); // 3 epochs: 937.5 → 950
  });
  it('learning rate: linear warmup, then linear or cosine decay to 0', () => {
    const s = { lr: 1e-3, warmupSteps: 4, decaySteps: 0, schedule: 'linear' as const };
    expect(learningRate(1, 100, s)).toBeCloseTo(2e-4, 12);
    expect(learningRate(4, 100, s)).toBeCloseTo(8e-4, 12);
    expect(learningRate(5, 100, s)).toBeCloseTo(1e-3, 12);
    expect(learningRate(52, 100, s)).toBeCloseTo(1e-3 * (1 - 47 / 96), 12);
    const c = { ...s, schedule: 'cosine' as const };
    expect(learningRate(53, 100, c)).toBeCloseTo(5e-4, 12);
    expect(learningRate(30, 100, { ...s, decaySteps: 20 })).toBe(0); // decayed fully by step 21
  });
  it('warmup is capped to 10% of the steps (rounded up), so a short run reaches its peak rate', () => {
    const s = { lr: 3e-4, warmupSteps: 20, decaySteps: 0, schedule: 'linear' as const };
    expect(effectiveSchedule(3, s)).toEqual({ warmupSteps: 1, warmupCapped: true, peakLr: 3e-4, decaySteps: 2, schedule: 'linear' });
    expect(learningRate(1, 3, s)).toBeCloseTo(1.5e-4, 12);
    expect(learningRate(2, 3, s)).toBeCloseTo(3e-4, 12); // the peak, which warmup 20 never reached (4e-5 at step 3)
    expect(learningRate(3, 3, s)).toBeCloseTo(1.5e-4, 12);
    expect(effectiveSchedule(1000, s).warmupSteps).toBe(20); // a long run keeps its warmup
    expect(effectiveSchedule(12, { ...s, warmupSteps: 2 }).warmupCapped).toBe(false); // ceil(1.2) = 2
    expect(effectiveSchedule(12, { ...s, warmupSteps: 0 }).warmupSteps).toBe(0);
    expect(describeSchedule(3, s)).toBe(
      'warmup 1 step (capped from 20: at most 10% of 3 steps) to a peak lr of 3.0e-4, then linear decay to 0 over 2 steps',
    );
  });
});

describe('data order', () => {
  it('is a seeded permutation per epoch, the same for the same (seed, step)', () => {
    const st = new TokenStream();
    st.push([{ ids: Array.from({ length: 100 }, (_, i) => i), train: true }]);
    const data = st.pack(10);
    const a = new BlockSampler(data, 3);
    const epoch = Array.from({ length: 10 }, (_, i) => a.blockAt(i));
    expect([...epoch].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = new BlockSampler(data, 3);
    expect(b.batch(7, 3).map((x) => x.ids[0])).toEqual(a.batch(7, 3).map((x) => x.ids[0]));
    expect(Array.from({ length: 10 }, (_, i) => a.blockAt(10 + i))).not.toEqual(epoch); // a new order each epoch
  });
});

describe('memory check', () => {
  const limits = { maxBufferSize: 2 * GiB, maxStorageBufferBindingSize: 2 * GiB };
  it('passes a run that fits, with the planner figures', () => {
    const c = checkMemory(qwen15, { ...DEFAULT_SETTINGS, seqLen: 1024, gpuMemoryBudget: 8 * GiB }, limits);
    expect(c.fits).toBe(true);
    expect(c.plan).toEqual(
      planMemory(
        { config: qwen15, seqLen: 1024, lora: { r: 16, targets: DEFAULT_SETTINGS.targets }, training: true },
        limits.maxStorageBufferBindingSize,
      ),
    );
  });
  it('refuses one that does not, suggesting the longest sequence that fits', () => {
    const c = checkMemory(qwen15, { ...DEFAULT_SETTINGS, seqLen: 32768, gpuMemoryBudget: 4 * GiB }, limits);
    expect(c.fits).toBe(false);
    expect(c.message).toMatch(/does not fit: it needs [\d.]+ MiB.*A sequence length of \d+ tokens fits/);
    const fits = checkMemory(qwen15, { ...DEFAULT_SETTINGS, seqLen: c.suggestion!.seqLen!, gpuMemoryBudget: 4 * GiB }, limits);
    expect(fits.fits).toBe(true);
  });
  it("names the GPU's largest-buffer limit when that is what is exceeded", () => {
    const c = checkMemory(
      qwen15,
      { ...DEFAULT_SETTINGS, seqLen: 8192, gpuMemoryBudget: 64 * GiB },
      { maxBufferSize: 128 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 },
    );
    expect(c.fits).toBe(false);
    expect(c.message).toMatch(/largest buffer .* over this GPU's limit/);
    expect(c.suggestion!.seqLen!).toBeLessThan(8192);
  });
  it('says to pick a smaller model when even short sequences do not fit', () => {
    const c = checkMemory(qwen15, { ...DEFAULT_SETTINGS, gpuMemoryBudget: 1 * GiB }, limits);
    expect(c.message).toMatch(/smaller model/);
  });
});
