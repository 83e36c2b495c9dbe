// One LoRA optimizer step on the GPU: gradient accumulation over micro-batches (one
// sequence each), global-norm clipping and AdamW, with only scalars read back.
import type { KernelRunner } from './kernel.ts';
import type { GpuMemory } from './memory.ts';
import type { GpuLora } from './lora.ts';
import type { Transformer } from './transformer.ts';
import { adamwStep, gradNorm } from './kernels/adamw.ts';
import { withErrorScopes } from './device.ts';

export interface OptimizerSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 disables clipping. */
  maxGradNorm: number;
}

export const DEFAULT_OPTIMIZER: OptimizerSettings = { lr: 2e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 };

export interface MicroBatch {
  ids: ArrayLike<number>;
  /** Per-position target ids, −1 = not trained on; default: the next token. */
  targets?: ArrayLike<number>;
}

export interface StepResult {
  step: number;
  /** Mean over micro-batches of each one's mean token loss (before the update). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  tokens: number;
}

export class LoraTrainer {
  /** Optimizer steps taken (AdamW's bias correction counts from here). */
  step = 0;
  private grads: Array<{ buffer: GPUBuffer; n: number }>;
  private partials: GPUBuffer;
  private norm: GPUBuffer;

  constructor(
    readonly runner: KernelRunner,
    readonly memory: GpuMemory,
    readonly transformer: Transformer,
    readonly adapter: GpuLora,
    readonly seed = 0,
  ) {
    this.grads = [...adapter.params()].map((p) => ({ buffer: p.grad, n: p.n }));
    this.partials = memory.buffer('scratch', Math.max(1, this.grads.length) * 4, 'gradnorm.partials');
    this.norm = memory.buffer('scratch', 4, 'gradnorm');
  }

  /** Runs forward + backward on every micro-batch, then one AdamW update. */
  trainStep(batch: MicroBatch[], opt: OptimizerSettings): Promise<StepResult> {
    // An allocation or command the GPU refuses becomes a typed error (with a hint), not a silent bad step.
    return withErrorScopes(this.memory.device, `training step ${this.step + 1}`, () => this.run(batch, opt));
  }

  private async run(batch: MicroBatch[], opt: OptimizerSettings): Promise<StepResult> {
    if (batch.length === 0) throw new Error('a training step needs at least one sequence');
    const device = this.memory.device;
    const tf = this.transformer;
    const stepNo = this.step + 1;
    const results = device.createBuffer({ size: (batch.length + 1) * 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    let tokens = 0;
    try {
      batch.forEach((mb, i) => {
        const counted = tf.setBatch(mb.ids, mb.targets);
        tokens += mb.ids.length;
        tf.setDropoutSeed(this.seed * 1_000_003 + stepNo * 1009 + i);
        const enc = device.createCommandEncoder();
        if (i === 0) for (const g of this.grads) enc.clearBuffer(g.buffer);
        const pass = enc.beginComputePass();
        // The step's loss is the mean of the micro-batches' mean losses; the LM head's gradient
        // is computed in the forward, so the scale is given there.
        tf.recordForward(pass, counted > 0 ? { gradScale: 1 / (counted * batch.length) } : {});
        if (counted > 0) tf.recordBackward(pass);
        pass.end();
        enc.copyBufferToBuffer(tf.loss, 0, results, i * 4, 4);
        device.queue.submit([enc.finish()]);
        this.runner.releaseUniforms();
      });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      gradNorm(this.runner, pass, this.grads, this.partials, this.norm);
      for (const p of this.adapter.params()) {
        adamwStep(this.runner, pass, p.param, p.grad, p.m, p.v, this.norm, p.n, {
          lr: opt.lr,
          beta1: opt.beta1,
          beta2: opt.beta2,
          eps: opt.eps,
          weightDecay: opt.weightDecay,
          maxNorm: opt.maxGradNorm,
          step: stepNo,
        });
      }
      pass.end();
      enc.copyBufferToBuffer(this.norm, 0, results, batch.length * 4, 4);
      device.queue.submit([enc.finish()]);
      this.runner.releaseUniforms();
      this.step = stepNo;
      await results.mapAsync(GPUMapMode.READ);
      const r = new Float32Array(results.getMappedRange().slice(0));
      results.unmap();
      let loss = 0;
      for (let i = 0; i < batch.length; i++) loss += r[i] / batch.length;
      return { step: stepNo, loss, gradNorm: r[batch.length], tokens };
    } finally {
      results.destroy();
    }
  }
}
