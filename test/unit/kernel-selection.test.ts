// Which kernel version runs: the tuner's pick for the shape (nearest token bucket), a forced
// family, and the first (register) version wherever a pick or family cannot run.
import { describe, expect, it } from 'vitest';
import { KernelSelection, type KernelVersion } from '../../src/gpu/kernel-versions.ts';

type Args = { K: number };
const version = (name: string, family: KernelVersion<Args>['family'], features: string[] = [], kDivides = 1): KernelVersion<Args> => ({
  op: 'linear',
  name,
  family,
  features,
  workgroupBytes: family === 'register' ? 0 : 16384,
  summary: name,
  supports: (a) => a.K % kDivides === 0,
  record: () => {},
});
const VERSIONS = [
  version('linear.register', 'register'),
  version('linear.tiled', 'tiled', [], 8),
  version('linear.tiled-f16', 'tiled-f16', ['shader-f16'], 8),
];

describe('kernel selection', () => {
  it('uses the register version where nothing was tuned', () => {
    expect(new KernelSelection(new Set(), 16384).choose(VERSIONS, { T: 64, K: 64, N: 64 }, { K: 64 }).name).toBe('linear.register');
  });

  it("uses the tuner's pick at the nearest token bucket of the same K and N", () => {
    const s = new KernelSelection(new Set(['shader-f16']), 16384);
    s.setPick('linear', { T: 1024, K: 64, N: 32 }, 'linear.tiled-f16');
    s.setPick('linear', { T: 16, K: 64, N: 32 }, 'linear.tiled');
    expect(s.choose(VERSIONS, { T: 700, K: 64, N: 32 }, { K: 64 }).name).toBe('linear.tiled-f16');
    expect(s.choose(VERSIONS, { T: 20, K: 64, N: 32 }, { K: 64 }).name).toBe('linear.tiled');
    expect(s.choose(VERSIONS, { T: 20, K: 64, N: 33 }, { K: 64 }).name).toBe('linear.register'); // another shape
    expect(s.used.get('linear.tiled-f16')).toBe(1);
  });

  it('falls back to the register version where a pick or a forced family cannot run', () => {
    const noF16 = new KernelSelection(new Set(), 16384);
    noF16.loadPicks({ 'linear T64 K64 N32': 'linear.tiled-f16', 'linear T64 K72 N32': 'linear.gone-in-this-build' });
    expect(noF16.choose(VERSIONS, { T: 64, K: 64, N: 32 }, { K: 64 }).name).toBe('linear.register'); // no shader-f16
    expect(noF16.choose(VERSIONS, { T: 64, K: 72, N: 32 }, { K: 72 }).name).toBe('linear.register');
    const small = new KernelSelection(new Set(), 8192); // too little workgroup memory for the tiles
    small.forced = 'tiled';
    expect(small.choose(VERSIONS, { T: 64, K: 64, N: 32 }, { K: 64 }).name).toBe('linear.register');
    const s = new KernelSelection(new Set(), 16384);
    s.forced = 'tiled';
    expect(s.choose(VERSIONS, { T: 64, K: 64, N: 32 }, { K: 64 }).name).toBe('linear.tiled');
    expect(s.choose(VERSIONS, { T: 64, K: 18, N: 32 }, { K: 18 }).name).toBe('linear.register'); // shape it does not take
    s.forced = 'subgroup'; // a family this op has no version of
    expect(s.choose(VERSIONS, { T: 64, K: 64, N: 32 }, { K: 64 }).name).toBe('linear.register');
  });
});
