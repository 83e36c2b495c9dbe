// The memory check before a run starts: the engine's own allocation plan (planner.ts,
// byte for byte what the engine allocates) against the adapter's buffer limits and the
// run's GPU memory budget, with the settings that would fit when these do not.
import { planMemory, largestSeqLen, type MemoryPlan } from '../gpu/planner.ts';
import type { ModelConfig } from '../model/types.ts';
import type { TrainSettings } from './settings.ts';

export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface MemoryCheck {
  fits: boolean;
  plan: MemoryPlan;
  budget: number;
  /** What is wrong and what would fit (empty when it fits). */
  message: string;
  suggestion?: Partial<Pick<TrainSettings, 'seqLen' | 'loraR'>>;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function checkMemory(
  config: ModelConfig,
  s: Pick<TrainSettings, 'seqLen' | 'loraR' | 'targets' | 'gpuMemoryBudget'> & { lowMemory?: boolean },
  limits: DeviceLimits,
): MemoryCheck {
  const lowMemory = !!s.lowMemory;
  const input = (seqLen: number, r = s.loraR) => ({ config, seqLen, lora: { r, targets: s.targets }, training: true, lowMemory });
  const plan = planMemory(input(s.seqLen), limits.maxStorageBufferBindingSize);
  const budget = s.gpuMemoryBudget;
  const bufferOk = (p: MemoryPlan) => p.largestBuffer <= Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  if (plan.total <= budget && bufferOk(plan)) return { fits: true, plan, budget, message: '' };
  // The longest sequence that fits both the budget and the largest-buffer limit.
  let seqLen = Math.min(
    largestSeqLen(
      { config, lora: { r: s.loraR, targets: s.targets }, training: true, lowMemory },
      budget,
      limits.maxStorageBufferBindingSize,
    ),
    s.seqLen,
  );
  while (seqLen > 1 && !bufferOk(planMemory(input(seqLen), limits.maxStorageBufferBindingSize))) seqLen = Math.floor(seqLen * 0.9);
  const why = !bufferOk(plan)
    ? `its largest buffer (${mib(plan.largestBuffer)}) is over this GPU's limit of ${mib(Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize))}`
    : `it needs ${mib(plan.total)} of GPU memory (weights ${mib(plan.weights)}, LoRA + optimizer ${mib(plan.lora + plan.optimizer)}, ` +
      `activations + scratch ${mib(plan.activations + plan.scratch)}), more than the budget of ${mib(budget)}`;
  if (seqLen >= 16) {
    return {
      fits: false,
      plan,
      budget,
      message:
        `This run does not fit: ${why}. A sequence length of ${seqLen} tokens fits; ` +
        `use that${lowMemory ? '' : ', or low memory mode'}, or raise the GPU memory budget if this GPU has more.`,
      suggestion: { seqLen },
    };
  }
  const weightsOnly = planMemory(
    { config, seqLen: 16, lora: { r: 1, targets: s.targets }, training: true, lowMemory: true },
    limits.maxStorageBufferBindingSize,
  );
  return {
    fits: false,
    plan,
    budget,
    message: `This run does not fit: ${why}. Even 16-token sequences need ${mib(weightsOnly.total)}: choose a smaller model or raise the GPU memory budget.`,
  };
}
