// The contract between the pages and the training worker (which has its own GPUDevice and
// runs one training job at a time): the worker implements TrainApi, the page's client is
// typed from it (WorkerClient in jobs.ts).
import type { ProgressListener } from '../progress.ts';
import type { CancellableApi, JobId } from './jobs.ts';
import type { TrainingFile } from '../data/types.ts';
import type { TrainSettings } from '../train/settings.ts';
import type { RunRecord } from '../train/run-record.ts';
import type { LiveProgress } from '../train/run.ts';
import type { MemoryCheck } from '../train/memory-check.ts';
import type { LossDecision, LossFilterCost } from '../train/loss-filter.ts';
import type { JobRequest, RunSummary, StartRequest, TrainModel } from '../train/train-service.ts';
import type { ExportedFiles } from '../serve/export-service.ts';
import type { SupervisedFile } from '../data/dataset/supervised.ts';
import type { DatasetPreview } from '../train/dataset-preview.ts';

export type { ExportedFiles, JobRequest, RunSummary, StartRequest, TrainModel };

export type UpdateListener = (record: RunRecord, live: LiveProgress | null) => void;

export interface TrainApi extends CancellableApi {
  /** Downloaded, complete models in browser storage. */
  models(): Promise<TrainModel[]>;
  runs(): Promise<RunSummary[]>;
  /** The memory check for these settings, before anything is built or allocated. */
  checkMemory(modelId: string, settings: Partial<TrainSettings>): Promise<MemoryCheck>;
  start(jobId: JobId, onProgress: ProgressListener, req: StartRequest, onUpdate: UpdateListener): Promise<RunRecord>;
  resume(jobId: JobId, onProgress: ProgressListener, runId: string, onUpdate: UpdateListener): Promise<RunRecord>;
  evaluate(jobId: JobId, onProgress: ProgressListener, runId: string): Promise<RunRecord>;
  /** Stage-2 filter alone (for the Filter page): each file's mean loss under the base model, cached. */
  filterByLoss(
    jobId: JobId,
    onProgress: ProgressListener,
    modelId: string,
    files: TrainingFile[],
    threshold: number,
  ): Promise<LossDecision[]>;
  /** The running run writes a checkpoint after its current step (best effort, as the tab is hidden or closed). */
  requestCheckpoint(): Promise<void>;
  /** What the stage-2 filter will cost on these files (cached files cost nothing), before it runs. */
  lossFilterCost(modelId: string, files: TrainingFile[]): Promise<LossFilterCost>;
  /**
   * What a run with these files and settings trains on (no GPU: the model's tokenizer only): counts
   * by kind, every bad supervised line, a few documents with their loss masks.
   */
  previewDataset(
    modelId: string,
    files: TrainingFile[],
    supervised: SupervisedFile[],
    settings: Partial<TrainSettings>,
  ): Promise<DatasetPreview>;
  /** The checkpoint's adapter as a PEFT .zip (adapter_config.json + adapter_model.safetensors). */
  exportAdapter(runId: string, step: number): Promise<Uint8Array>;
  deleteRun(runId: string): Promise<void>;
  /** The run these sources and settings would make, as a GPU-cluster job (.zip in OPFS exports/), without the memory check. */
  exportJob(jobId: JobId, onProgress: ProgressListener, req: JobRequest): Promise<ExportedFiles>;
}
