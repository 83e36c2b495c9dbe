// Causal GQA attention forward/backward: every version against the same float64
// reference, at MHA and GQA ratios 2 and 7 (Qwen2.5-0.5B: 14 q / 2 kv heads, d = 64),
// head sizes 4–128, T not a multiple of any block size. "flash" uses the blocks this
// device's limits give, "16 KiB blocks" those of WebGPU's default limit, "small blocks"
// tiny ones so short sequences still cross many block edges and partial blocks.
// Tolerance: relative to the tensor's largest value; f32 accumulation over ≤ 130 keys
// × d ≤ 128 products stays below 1e-6 (measured: ≤ 7.5e-7, every version), so 2e-5
// leaves room for other adapters without hiding a wrong mask or block edge (moving the
// dk/dv causal mask by one row fails every shape).
// flash-f16 (where the adapter has shader-f16) holds q, k, v and dout as f16: tolerance
// 2·u·√d, u = 2⁻¹¹ (f16's unit roundoff; derivation in attention-flash-f16.ts), i.e.
// 2.0e-3 at d = 4 to 1.1e-2 at d = 128; measured ≤ 1.2e-3 for every shape and gradient.
import { afterAll, describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { attentionBackward, attentionForward } from '../../src/gpu/kernels/attention.ts';
import { attentionBackwardFlash, attentionForwardFlash, flashTiles } from '../../src/gpu/kernels/attention-flash.ts';
import {
  ATTENTION_F16_TOLERANCE,
  attentionBackwardFlashF16,
  attentionForwardFlashF16,
  flashTilesF16,
} from '../../src/gpu/kernels/attention-flash-f16.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

type Fwd = typeof attentionForward;
type Bwd = typeof attentionBackward;
const small = { br: 3, bc: 5, bck: 4, brq: 6 };
const DEFAULT_LIMITS = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 };
// The blocks a device with only WebGPU's default 16 KiB of workgroup memory gets (lavapipe offers 32 KiB).
const at16k = (nH: number, nKv: number, hd: number) => flashTiles(DEFAULT_LIMITS, hd, nH / nKv);
const at16kF16 = (nH: number, nKv: number, hd: number) => flashTilesF16(DEFAULT_LIMITS, hd, nH / nKv);
const versions: Array<{ name: string; fwd: Fwd; bwd: Bwd; f16?: boolean }> = [
  { name: 'simple', fwd: attentionForward, bwd: attentionBackward },
  { name: 'flash', fwd: attentionForwardFlash, bwd: attentionBackwardFlash },
  {
    name: 'flash (16 KiB blocks)',
    fwd: (...a) => attentionForwardFlash(...a, at16k(a[8], a[9], a[10])),
    bwd: (...a) => attentionBackwardFlash(...a, at16k(a[13], a[14], a[15])),
  },
  {
    name: 'flash (small blocks)',
    fwd: (...a) => attentionForwardFlash(...a, small),
    bwd: (...a) => attentionBackwardFlash(...a, small),
  },
  { name: 'flash-f16', fwd: attentionForwardFlashF16, bwd: attentionBackwardFlashF16, f16: true },
  {
    name: 'flash-f16 (16 KiB blocks)',
    fwd: (...a) => attentionForwardFlashF16(...a, at16kF16(a[8], a[9], a[10])),
    bwd: (...a) => attentionBackwardFlashF16(...a, at16kF16(a[13], a[14], a[15])),
    f16: true,
  },
  {
    name: 'flash-f16 (small blocks)',
    fwd: (...a) => attentionForwardFlashF16(...a, small),
    bwd: (...a) => attentionBackwardFlashF16(...a, small),
    f16: true,
  },
];

const TOL = 2e-5;
// flash-f16 rounds q, k, v and dout to f16: 2·u·√d (u = 2⁻¹¹), derived in attention-flash-f16.ts.
const tolF16 = ATTENTION_F16_TOLERANCE;
const errors: string[] = [];

describe.skipIf(!!gpuSkipReason)(`attention kernel${skipNote}`, () => {
  afterAll(() => console.log(`[attention] relative errors (tolerance ${TOL}):\n  ${errors.join('\n  ')}`));
  for (const [T, nH, nKv, hd] of [
    [7, 2, 2, 4],
    [40, 4, 2, 8],
    [70, 6, 1, 16], // more rows than one workgroup, one kv head for six query heads
    [45, 14, 2, 64], // Qwen2.5-0.5B's heads
    [130, 2, 2, 64], // MHA over more than two 64-row blocks
    [37, 4, 2, 128],
    [50, 7, 1, 128],
  ]) {
    it(`T=${T} heads=${nH} kv=${nKv} d=${hd}: every version matches the reference`, async () => {
      const runner = await testRunner();
      const q = f32Round(randn(T * nH * hd, 1));
      const k = f32Round(randn(T * nKv * hd, 2));
      const v = f32Round(randn(T * nKv * hd, 3));
      const dout = f32Round(randn(T * nH * hd, 4));
      const want = ref.attention(q, k, v, T, nH, nKv, hd);
      const g = ref.attentionBackward(q, k, v, dout, T, nH, nKv, hd);
      const { device } = await testDevice();
      for (const ver of versions) {
        if (ver.f16 && !device.features.has('shader-f16')) continue;
        const z = (n: number) => new Float64Array(n);
        const b = await Promise.all(
          [q, k, v, dout, z(T * nH * hd), z(nH * T), z(T * nH * hd), z(T * nKv * hd), z(T * nKv * hd), z(nH * T)].map(f32Buffer),
        );
        const [bq, bk, bv, bdo, bout, blse, bdq, bdk, bdv, bdelta] = b;
        await runner.run((pass) => {
          ver.fwd(runner, pass, bq, bk, bv, bout, blse, T, nH, nKv, hd);
          ver.bwd(runner, pass, bq, bk, bv, bout, blse, bdo, bdq, bdk, bdv, bdelta, T, nH, nKv, hd);
        });
        const e = {
          out: relErr(await readF64(bout, T * nH * hd), want),
          dq: relErr(await readF64(bdq, q.length), g.dq),
          dk: relErr(await readF64(bdk, k.length), g.dk),
          dv: relErr(await readF64(bdv, v.length), g.dv),
        };
        errors.push(
          `${ver.name} T=${T} ${nH}/${nKv} d=${hd}: ${Object.entries(e)
            .map(([n, x]) => `${n} ${x.toExponential(1)}`)
            .join(', ')}`,
        );
        for (const [n, x] of Object.entries(e)) expect(x, `${ver.name} ${n}`).toBeLessThan(ver.f16 ? tolF16(hd) : TOL);
        for (const x of b) x.destroy();
      }
    }, 300_000); // ten versions, each compiled for this shape on a software adapter
  }

  it('the versions are interchangeable: flash backward from simple forward and the reverse', async () => {
    const runner = await testRunner();
    const [T, nH, nKv, hd] = [40, 4, 2, 8]; // shapes compiled above: no new pipelines
    const q = f32Round(randn(T * nH * hd, 5));
    const k = f32Round(randn(T * nKv * hd, 6));
    const v = f32Round(randn(T * nKv * hd, 7));
    const dout = f32Round(randn(T * nH * hd, 8));
    const g = ref.attentionBackward(q, k, v, dout, T, nH, nKv, hd);
    const { device } = await testDevice();
    const pairs = [
      [versions[0], versions[3]],
      [versions[3], versions[0]],
    ];
    // The f16 version pairs with the f32 ones too (within its tolerance).
    if (device.features.has('shader-f16')) pairs.push([versions[0], versions[6]], [versions[6], versions[0]]);
    for (const [fwd, bwd] of pairs) {
      const tol = fwd.f16 || bwd.f16 ? tolF16(hd) : TOL;
      const z = (n: number) => new Float64Array(n);
      const b = await Promise.all(
        [q, k, v, dout, z(T * nH * hd), z(nH * T), z(T * nH * hd), z(T * nKv * hd), z(T * nKv * hd), z(nH * T)].map(f32Buffer),
      );
      const [bq, bk, bv, bdo, bout, blse, bdq, bdk, bdv, bdelta] = b;
      await runner.run((pass) => {
        fwd.fwd(runner, pass, bq, bk, bv, bout, blse, T, nH, nKv, hd);
        bwd.bwd(runner, pass, bq, bk, bv, bout, blse, bdo, bdq, bdk, bdv, bdelta, T, nH, nKv, hd);
      });
      expect(relErr(await readF64(bdq, q.length), g.dq)).toBeLessThan(tol);
      expect(relErr(await readF64(bdk, k.length), g.dk)).toBeLessThan(tol);
      expect(relErr(await readF64(bdv, v.length), g.dv)).toBeLessThan(tol);
      for (const x of b) x.destroy();
    }
  });

  it('flash block sizes fit the device and the 16 KiB WebGPU default', async () => {
    const { device } = await testDevice();
    const fits = (l: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }, hd: number, g: number) => {
      const t = flashTiles(l, hd, g);
      expect(Math.max(t.bc * hd * 2, t.brq * (hd * 2 + 2)) * 4).toBeLessThanOrEqual(l.maxComputeWorkgroupStorageSize);
      expect(Math.max(t.br * g, t.bck)).toBeLessThanOrEqual(l.maxComputeInvocationsPerWorkgroup);
      return t;
    };
    const base = DEFAULT_LIMITS;
    expect(fits(base, 64, 7)).toEqual({ br: 9, bc: 32, bck: 64, brq: 31 });
    expect(fits(base, 128, 2)).toEqual({ br: 32, bc: 16, bck: 64, brq: 15 });
    for (const hd of [64, 128]) for (const g of [1, 2, 7]) fits(device.limits, hd, g);
    // f16 blocks: half the bytes, so deeper blocks fit (BC 32 at d = 128 in 16 KiB, not 16).
    const fitsF16 = (l: typeof base, hd: number, g: number) => {
      const t = flashTilesF16(l, hd, g);
      expect(Math.max(t.bc * hd * 4, t.brq * (hd * 4 + 12))).toBeLessThanOrEqual(l.maxComputeWorkgroupStorageSize);
      expect(Math.max(t.br * g, t.bck)).toBeLessThanOrEqual(l.maxComputeInvocationsPerWorkgroup);
      return t;
    };
    expect(fitsF16(base, 64, 7)).toEqual({ br: 9, bc: 32, bck: 64, brq: 32 });
    expect(fitsF16(base, 128, 2)).toEqual({ br: 32, bc: 32, bck: 64, brq: 31 });
    for (const hd of [64, 128]) for (const g of [1, 2, 7]) fitsF16(device.limits, hd, g);
    expect(() => flashTilesF16(base, 6, 1)).toThrow(/multiple of 4/);
    expect(() => flashTiles({ ...base, maxComputeWorkgroupStorageSize: 1024 }, 256, 1)).toThrow(/simple attention/);
  });
});
