// The FlashAttention-2 kernels in headless Chromium (SwiftShader WebGPU): the exact
// dispatches the engine records (flashPasses), with block sizes for the 16 KiB WebGPU
// default of workgroup memory, replayed by the page's own WebGPU and compared with the
// float64 reference, forward and backward. Tolerance 2e-5 relative, as in
// test/gpu/attention.test.ts (f32 sums over ≤ 45 keys × d ≤ 128).
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import * as ref from '../../src/gpu/reference/ops.ts';
import { flashPasses, type FlashBinding } from '../../src/gpu/kernels/attention-flash.ts';
import { browserSkipReason, launchBrowser } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

const DEFAULT_LIMITS = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 };

interface PagePass {
  label: string;
  code: string;
  bindings: FlashBinding[];
  params: number[];
  workgroups: [number, number];
}

/** Runs in the page: uploads the inputs, records the passes in order, reads back the outputs. */
async function runInPage(arg: { passes: PagePass[]; inputs: Record<string, number[]>; zeros: Record<string, number>; read: string[] }) {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter in the page');
  const device = await adapter.requestDevice();
  const bufs: Record<string, GPUBuffer> = {};
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  for (const [name, values] of Object.entries(arg.inputs)) {
    bufs[name] = device.createBuffer({ size: values.length * 4, usage });
    device.queue.writeBuffer(bufs[name], 0, new Float32Array(values));
  }
  for (const [name, n] of Object.entries(arg.zeros)) bufs[name] = device.createBuffer({ size: n * 4, usage });
  device.pushErrorScope('validation');
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const p of arg.passes) {
    const module = device.createShaderModule({ code: p.code, label: p.label });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const u = device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(u, 0, new Uint32Array(p.params));
    const entries: GPUBindGroupEntry[] = p.bindings.map((b, i) => ({ binding: i, resource: { buffer: bufs[b] } }));
    entries.push({ binding: p.bindings.length, resource: { buffer: u } });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    pass.dispatchWorkgroups(p.workgroups[0], p.workgroups[1]);
  }
  pass.end();
  const out: Record<string, number[]> = {};
  const staging: Record<string, GPUBuffer> = {};
  for (const name of arg.read) {
    staging[name] = device.createBuffer({ size: bufs[name].size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(bufs[name], 0, staging[name], 0, bufs[name].size);
  }
  device.queue.submit([enc.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(error.message);
  for (const name of arg.read) {
    await staging[name].mapAsync(GPUMapMode.READ);
    out[name] = Array.from(new Float32Array(staging[name].getMappedRange()));
  }
  return out;
}

describe.skipIf(!!browserSkipReason)(`flash attention in headless Chromium${skipNote}`, () => {
  let server: Server;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // A blank page on loopback: a secure context, so the page has navigator.gpu.
    server = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>flash</title>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
  });
  afterAll(() => closeAll({ browser, servers: [{ close: () => new Promise<void>((r) => server.close(() => r())) }] }));

  for (const [T, nH, nKv, hd] of [
    [45, 14, 2, 64], // Qwen2.5-0.5B's heads
    [37, 4, 2, 128],
  ]) {
    it(`T=${T} heads=${nH} kv=${nKv} d=${hd}: forward and backward match the reference`, async () => {
      const q = f32Round(randn(T * nH * hd, 1));
      const k = f32Round(randn(T * nKv * hd, 2));
      const v = f32Round(randn(T * nKv * hd, 3));
      const dout = f32Round(randn(T * nH * hd, 4));
      const plan = flashPasses(DEFAULT_LIMITS, T, nH, nKv, hd);
      const passes = [plan.forward, plan.dq, plan.dkv].map((p) => ({ ...p, params: Array.from(new Uint32Array(p.params)) }));
      const got = await page.evaluate(runInPage, {
        passes,
        inputs: { q: Array.from(q), k: Array.from(k), v: Array.from(v), dout: Array.from(dout) },
        zeros: { out: q.length, lse: nH * T, dq: q.length, dk: k.length, dv: v.length, delta: nH * T },
        read: ['out', 'dq', 'dk', 'dv'],
      });
      const g = ref.attentionBackward(q, k, v, dout, T, nH, nKv, hd);
      expect(relErr(got.out, ref.attention(q, k, v, T, nH, nKv, hd))).toBeLessThan(2e-5);
      expect(relErr(got.dq, g.dq)).toBeLessThan(2e-5);
      expect(relErr(got.dk, g.dk)).toBeLessThan(2e-5);
      expect(relErr(got.dv, g.dv)).toBeLessThan(2e-5);
    });
  }
});
