// The memory planner for the Model page: a model's config (kept in the catalog, or read
// from the hub before any weight is downloaded) and this GPU's limits → what training and
// inference need, whether they fit the user's GPU memory, and the longest sequence that does.
// WebGPU does not tell how much memory a GPU has, so the budget is the user's to give.
import { CATALOG } from '../model/catalog.ts';
import { parseConfig } from '../model/config.ts';
import { Hub } from '../model/hub/client.ts';
import { LORA_TARGETS, type ModelConfig } from '../model/types.ts';
import { largestSeqLen, planMemory, type MemoryPlan } from '../gpu/planner.ts';
import type { HubSettings } from '../serve/model-service.ts';
import { HomecoderError } from '../errors.ts';

export interface PlanRequest {
  /** A catalog or hub repo id; its config comes from the catalog or the hub. */
  repo?: string;
  hub?: HubSettings;
  /** Or a config already at hand (a loaded model). */
  config?: ModelConfig;
  seqLen: number;
  loraR: number;
  lowMemory: boolean;
  /** The GPU memory the user says this GPU has, in bytes. */
  gpuMemory: number;
}

export interface PlanReport {
  architecture: string;
  config: ModelConfig;
  training: MemoryPlan;
  inference: MemoryPlan;
  gpuMemory: number;
  /** The adapter's maxBufferSize: no single buffer may be larger. */
  maxBufferSize: number;
  fitsTraining: boolean;
  fitsInference: boolean;
  maxSeqLenTraining: number;
  maxSeqLenInference: number;
}

async function resolveConfig(req: Pick<PlanRequest, 'repo' | 'hub' | 'config'>): Promise<ModelConfig> {
  if (req.config) return req.config;
  if (!req.repo) throw new HomecoderError('BAD_PLAN_REQUEST', 'Choose a model to plan for.');
  const known = CATALOG.find((m) => m.repo === req.repo)?.config;
  if (known) return parseConfig(known, `${req.repo}/config.json`);
  return parseConfig(await new Hub(req.repo, req.hub).json('config.json'), `${req.repo}/config.json`);
}

export async function planModel(
  req: PlanRequest,
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number },
): Promise<PlanReport> {
  if (!(req.seqLen >= 1) || !(req.loraR >= 1) || !(req.gpuMemory > 0))
    throw new HomecoderError('BAD_PLAN_REQUEST', 'Sequence length, LoRA rank and GPU memory must be positive numbers.');
  const config = await resolveConfig(req);
  const chunk = limits.maxStorageBufferBindingSize;
  const lora = { r: req.loraR, targets: LORA_TARGETS };
  const base = { config, lora, lowMemory: req.lowMemory };
  const training = planMemory({ ...base, seqLen: req.seqLen, training: true }, chunk);
  // Serving one adapter merges it into a copy of the weights it targets (a mix would not).
  const inference = planMemory({ ...base, seqLen: req.seqLen, training: false, merged: true }, chunk);
  const bufferOk = (p: MemoryPlan) => p.largestBuffer <= limits.maxBufferSize;
  return {
    architecture: config.architecture,
    config,
    training,
    inference,
    gpuMemory: req.gpuMemory,
    maxBufferSize: limits.maxBufferSize,
    fitsTraining: training.total <= req.gpuMemory && bufferOk(training),
    fitsInference: inference.total <= req.gpuMemory && bufferOk(inference),
    maxSeqLenTraining: largestSeqLen({ ...base, training: true }, req.gpuMemory, chunk),
    maxSeqLenInference: largestSeqLen({ ...base, training: false, merged: true }, req.gpuMemory, chunk),
  };
}
