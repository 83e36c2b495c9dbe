// Which kernel version runs: the tuner's pick for the shape (nearest token bucket), a forced
// family, and the first (register) version wherever a pick or family cannot run; the same
// for training attention (simple or FlashAttention-2) and decoding's cached attention.
import { describe, expect, it } from 'vitest';
import { KernelSelection, type KernelVersion } from '../../src/gpu/kernel-versions.ts';
import { ATTENTION_VERSIONS, attentionShape, type AttentionArgs } from '../../src/gpu/kernels/attention-versions.ts';
import { ATTENTION_CACHED_VERSIONS, attentionCachedShape, type AttentionCachedArgs } from '../../src/gpu/kernels/attention-cached.ts';

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

describe('attention versions', () => {
  const limits = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 };
  const args = (over: Partial<AttentionArgs> = {}): AttentionArgs => {
    const b = {} as GPUBuffer;
    return { q: b, k: b, v: b, out: b, lse: b, T: 64, nHeads: 4, nKv: 2, headDim: 16, limits, ...over };
  };
  const pick = (s: KernelSelection, a: AttentionArgs) => s.choose(ATTENTION_VERSIONS, attentionShape(a), a).name;

  it('runs simple by default, flash where tuned or where the tiled (or tiled-f16) family is forced', () => {
    expect(pick(new KernelSelection(new Set(), 16384), args())).toBe('attention.simple');
    const tuned = new KernelSelection(new Set(), 16384);
    tuned.loadPicks({ 'attention T64 K16 N2': 'attention.flash' }); // K head size, N query heads per kv head
    expect(pick(tuned, args({ T: 50 }))).toBe('attention.flash');
    expect(pick(tuned, args({ nHeads: 8 }))).toBe('attention.simple'); // another group size: not tuned
    const forced = new KernelSelection(new Set(['shader-f16']), 16384);
    forced.forced = 'tiled';
    expect(pick(forced, args())).toBe('attention.flash');
    forced.forced = 'tiled-f16'; // f16 math where the device has shader-f16
    expect(pick(forced, args())).toBe('attention.flash-f16');
    expect(pick(forced, args({ headDim: 6 }))).toBe('attention.simple'); // vec4 blocks: head size a multiple of 4
    forced.forced = 'subgroup'; // no subgroup version: the simple one
    expect(pick(forced, args())).toBe('attention.simple');
    // Without shader-f16 the f16 version is filtered out, whether forced or tuned elsewhere.
    const noF16 = new KernelSelection(new Set(), 16384);
    noF16.forced = 'tiled-f16';
    expect(pick(noF16, args())).toBe('attention.simple');
    const tunedElsewhere = new KernelSelection(new Set(), 16384);
    tunedElsewhere.loadPicks({ 'attention T64 K16 N2': 'attention.flash-f16' });
    expect(pick(tunedElsewhere, args())).toBe('attention.simple');
  });

  it('falls back to simple where the flash tiles do not fit the device', () => {
    const s = new KernelSelection(new Set(), 16384);
    s.forced = 'tiled';
    // 256 bytes of workgroup memory cannot hold one key row of K and V at head size 64.
    expect(pick(s, args({ headDim: 64, limits: { ...limits, maxComputeWorkgroupStorageSize: 256 } }))).toBe('attention.simple');
    expect(pick(s, args({ nHeads: 6, nKv: 4 }))).toBe('attention.simple'); // heads not a multiple of kv heads
  });
});

describe('cached attention versions', () => {
  const args = (over: Partial<AttentionCachedArgs> = {}): AttentionCachedArgs => {
    const b = {} as GPUBuffer;
    return { q: b, kCache: b, vCache: b, out: b, T: 1, pos0: 99, nHeads: 14, nKv: 2, headDim: 64, kvType: 'f16', ...over };
  };
  const pick = (s: KernelSelection, a: AttentionCachedArgs) => s.choose(ATTENTION_CACHED_VERSIONS, attentionCachedShape(a), a).name;

  it('runs the shared version by default, the subgroup one where forced (`--kernels subgroup`) or tuned', () => {
    expect(pick(new KernelSelection(new Set(['subgroups']), 16384), args())).toBe('attention-cached.shared');
    const forced = new KernelSelection(new Set(['subgroups']), 16384);
    forced.forced = 'subgroup';
    expect(pick(forced, args())).toBe('attention-cached.subgroup');
    expect(pick(forced, args({ kvType: 'f32', headDim: 12 }))).toBe('attention-cached.subgroup'); // f32 rows: vec4 loads
    expect(pick(forced, args({ headDim: 12 }))).toBe('attention-cached.shared'); // f16 rows of 12: no 16-byte loads
    expect(pick(forced, args({ headDim: 256 }))).toBe('attention-cached.shared'); // partial outputs too big for workgroup memory
    forced.forced = 'tiled'; // no tiled version: the shared one
    expect(pick(forced, args())).toBe('attention-cached.shared');
    // The shape key: T is the cache length (the last query's keys), K the head size, N query heads per kv head.
    const tuned = new KernelSelection(new Set(['subgroups']), 16384);
    tuned.loadPicks({ 'attention-cached T128 K64 N7': 'attention-cached.subgroup' });
    expect(pick(tuned, args({ pos0: 99 }))).toBe('attention-cached.subgroup');
    expect(pick(tuned, args({ nHeads: 4 }))).toBe('attention-cached.shared'); // another group size: not tuned
    // Without subgroups the subgroup version is filtered out, whether forced or tuned elsewhere.
    const none = new KernelSelection(new Set(), 16384);
    none.forced = 'subgroup';
    expect(pick(none, args())).toBe('attention-cached.shared');
    none.forced = undefined;
    none.loadPicks({ 'attention-cached T128 K64 N7': 'attention-cached.subgroup' });
    expect(pick(none, args())).toBe('attention-cached.shared');
  });
});
