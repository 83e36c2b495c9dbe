// The training worker's work: opens a downloaded model from OPFS on this worker's own
// device, and runs the shared pipeline (src/train/pipeline.ts) with runs stored in OPFS.
import { zipSync } from 'fflate';
import { opfsStore } from '../model/storage/opfs-store.ts';
import { openRunModel, type OpenedRunModel } from './run-model.ts';
import { opfsRunFolder } from './opfs-run-folder.ts';
import { readJsonFile, subFolder, writeJsonFile, type RunFolder } from './run-folder.ts';
import { prepareRun, trainAndEvaluate, evaluateRun } from './pipeline.ts';
import { readRun, type LiveProgress } from './run.ts';
import { listCheckpoints, checkpointAdapterFiles, readCheckpointState } from './checkpoint.ts';
import {
  folderLossCache,
  LOSS_WINDOW,
  lossFilterCost,
  runLossFilter,
  type LossDecision,
  type LossFilterCost,
  type LossThresholdSetting,
} from './loss-filter.ts';
import type { TrainingFile } from '../data/types.ts';
import type { SupervisedFile } from '../data/dataset/supervised.ts';
import { openTextModel, previewDataset, type DatasetPreview, type TextModel } from './dataset-preview.ts';
import { checkMemory, type MemoryCheck } from './memory-check.ts';
import { validateSettings, type TrainSettings } from './settings.ts';
import { openModel } from '../model/loader.ts';
import type { RunRecord } from './run-record.ts';
import type { Progress } from '../progress.ts';
import { RunError } from './errors.ts';
import { exportJobFromFiles } from './job-export.ts';
import { autoTune } from '../gpu/browser-tune.ts';
import { zipSinks } from '../model/export/zip-sink.ts';
import { opfsExportFolder, removeExport } from '../model/storage/opfs-exports.ts';
import type { ExportedFiles } from '../serve/export-service.ts';

export interface TrainModel {
  id: string;
  repo: string;
}

export interface RunSummary extends RunRecord {
  /** Marked running in storage but not running in this tab: the tab was closed or reloaded mid-run. */
  interrupted: boolean;
  /** Step Resume would continue from (its latest checkpoint). */
  resumeFrom: number;
  /** When that checkpoint was written (ISO time), if there is one. */
  resumeSavedAt?: string;
}

export interface StartRequest {
  modelId: string;
  files: TrainingFile[];
  settings: Partial<TrainSettings>;
  /** Conversations and prompt/completion pairs (JSONL or CSV) mixed with the files. */
  supervised?: SupervisedFile[];
  /** Stage-2 loss filter: a threshold in nats, 'auto' (chosen from the model's losses) or 'off'. */
  lossThreshold: LossThresholdSetting;
}

/** "Export as a cluster job" from the Train page: the sources and settings a run would start with. */
export type JobRequest = Omit<StartRequest, 'lossThreshold'>;

const LOSS_CACHE = 'loss-cache.json';
const LOSS_RATE = 'loss-rate.json';

export class TrainService {
  private engine?: { id: string; engine: OpenedRunModel };
  private active = new Set<string>();
  /** Set by requestCheckpoint (the page is being hidden): the running loop checkpoints after its step. */
  private checkpointAsked = false;
  private runsRoot?: Promise<RunFolder>;
  private textModel?: { id: string; model: TextModel };

  constructor(private device: () => Promise<GPUDevice>) {}

  private root(): Promise<RunFolder> {
    this.runsRoot ??= opfsRunFolder();
    return this.runsRoot;
  }

  async models(): Promise<TrainModel[]> {
    return (await (await opfsStore()).list()).filter((m) => m.complete).map((m) => ({ id: m.id, repo: m.repo }));
  }

  private async modelFiles(id: string) {
    const store = await opfsStore();
    const m = (await store.list()).find((x) => x.id === id && x.complete);
    if (!m) throw new RunError('NO_MODEL', `The model "${id}" is not downloaded completely: download it on the Model page first.`);
    return { files: (await store.folder(id)).files(), repo: m.repo };
  }

  private async open(id: string, signal?: AbortSignal, onProgress?: (p: Progress) => void): Promise<OpenedRunModel> {
    if (this.engine?.id === id) return this.engine.engine;
    this.engine?.engine.close();
    this.engine = undefined;
    const { files } = await this.modelFiles(id);
    const engine = await openRunModel(await this.device(), files, { signal, onProgress });
    this.engine = { id, engine };
    return engine;
  }

  /** The dataset preview from the model's tokenizer files (nothing is loaded on the GPU). */
  async previewDataset(
    modelId: string,
    files: TrainingFile[],
    supervised: SupervisedFile[],
    over: Partial<TrainSettings>,
  ): Promise<DatasetPreview> {
    // The tokenizer is kept for the next preview (settings and data change more often than the model).
    if (this.textModel?.id !== modelId) {
      const { files: modelFiles } = await this.modelFiles(modelId);
      this.textModel = { id: modelId, model: await openTextModel(modelFiles) };
    }
    return previewDataset(this.textModel.model, files, supervised, over);
  }

  async checkMemory(modelId: string, over: Partial<TrainSettings>): Promise<MemoryCheck> {
    const { files } = await this.modelFiles(modelId);
    const { config } = await openModel(files);
    const device = await this.device();
    return checkMemory(config, validateSettings(over, config.maxPositionEmbeddings), device.limits);
  }

  async runs(): Promise<RunSummary[]> {
    const root = await this.root();
    const out: RunSummary[] = [];
    for (const id of await root.list('')) {
      const run = subFolder(root, id);
      const r = await readRun(run).catch(() => undefined);
      if (!r) continue;
      const resumeFrom = (await listCheckpoints(run)).at(-1) ?? 0;
      out.push({
        ...r,
        interrupted: (r.status === 'running' || r.status === 'created') && !this.active.has(id),
        resumeFrom,
        resumeSavedAt: resumeFrom ? (await readCheckpointState(run, resumeFrom))?.savedAt : undefined,
      });
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  }

  async start(
    req: StartRequest,
    signal: AbortSignal,
    onProgress: (p: Progress) => void,
    onUpdate: (r: RunRecord, l: LiveProgress | null) => void,
  ): Promise<RunRecord> {
    const { repo } = await this.modelFiles(req.modelId);
    const engine = await this.open(req.modelId, signal, onProgress);
    const root = await this.root();
    const id = `run-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const run = subFolder(root, id);
    try {
      const { record, measured } = await prepareRun(engine, req.files, req.settings, run, {
        runId: id,
        model: { id: req.modelId, label: repo },
        supervised: req.supervised,
        lossFilter: req.lossThreshold === 'off' ? false : { threshold: req.lossThreshold, cache: await folderLossCache(root, LOSS_CACHE) },
        signal,
        onProgress,
      });
      if (measured) await this.rememberRate(req.modelId, measured);
      onUpdate(record, null); // the planned steps are shown before the first step
    } catch (err) {
      await root.remove(id); // nothing half-made is left in the run list
      throw err;
    }
    return this.train(id, run, engine, signal, onProgress, onUpdate);
  }

  async resume(
    runId: string,
    signal: AbortSignal,
    onProgress: (p: Progress) => void,
    onUpdate: (r: RunRecord, l: LiveProgress | null) => void,
  ): Promise<RunRecord> {
    const run = subFolder(await this.root(), runId);
    const record = await readRun(run);
    if (!record) throw new RunError('RUN_NOT_FOUND', `No run ${runId}.`);
    const engine = await this.open(record.model.id, signal, onProgress);
    return this.train(runId, run, engine, signal, onProgress, onUpdate);
  }

  private async train(
    id: string,
    run: RunFolder,
    engine: OpenedRunModel,
    signal: AbortSignal,
    onProgress: (p: Progress) => void,
    onUpdate: (r: RunRecord, l: LiveProgress | null) => void,
  ): Promise<RunRecord> {
    if (this.active.size) throw new RunError('RUN_BUSY', 'A run is already training in this tab; stop it first.');
    this.active.add(id);
    try {
      // Evaluation (greedy decoding) is a separate button here: it can take a while on a big model.
      this.checkpointAsked = false;
      const checkpointRequested = () => {
        const asked = this.checkpointAsked;
        this.checkpointAsked = false;
        return asked;
      };
      // The first run of this model shape on this GPU: pick the kernels by a quick measurement (stored).
      // Tuning only makes it faster: a failure or a Stop during it leaves the register versions, and
      // the run itself then handles a Stop as always.
      const record = await readRun(run);
      if (record) await autoTune(engine.runner, engine.model, record.settings.seqLen, { signal, onProgress }).catch(() => 0);
      return await trainAndEvaluate(engine, run, { signal, onProgress, onUpdate, maxTestBlocks: 64, evaluate: false, checkpointRequested });
    } finally {
      this.active.delete(id);
    }
  }

  async evaluate(runId: string, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<RunRecord> {
    const run = subFolder(await this.root(), runId);
    const record = await readRun(run);
    if (!record) throw new RunError('RUN_NOT_FOUND', `No run ${runId}.`);
    return evaluateRun(await this.open(record.model.id, signal, onProgress), run, { signal, onProgress, maxTestBlocks: 64 });
  }

  async filterByLoss(
    modelId: string,
    files: TrainingFile[],
    threshold: number,
    signal: AbortSignal,
    onProgress: (p: Progress) => void,
  ): Promise<LossDecision[]> {
    const engine = await this.open(modelId, signal, onProgress);
    const cache = await folderLossCache(await this.root(), LOSS_CACHE);
    const r = await runLossFilter(engine, engine.tokenizer, files, { modelId, threshold, seqLen: LOSS_WINDOW, cache, signal, onProgress });
    await this.rememberRate(modelId, r.measured);
    return r.decisions;
  }

  /** What stage 2 will cost for these files: from the shared cache and the rate measured before. */
  async lossFilterCost(modelId: string, files: TrainingFile[]): Promise<LossFilterCost> {
    const root = await this.root();
    const rates = (await readJsonFile<Record<string, number>>(root, LOSS_RATE)) ?? {};
    return lossFilterCost(files, modelId, await folderLossCache(root, LOSS_CACHE), rates[modelId]);
  }

  /** Milliseconds per token of the loss filter, per model, for the next cost estimate. */
  private async rememberRate(modelId: string, m: { tokens: number; ms: number }): Promise<void> {
    if (!m.tokens) return;
    const root = await this.root();
    const rates = (await readJsonFile<Record<string, number>>(root, LOSS_RATE)) ?? {};
    rates[modelId] = m.ms / m.tokens;
    await writeJsonFile(root, LOSS_RATE, rates);
  }

  /** Best effort before the tab goes away: the running run writes a checkpoint after its current step. */
  requestCheckpoint(): void {
    if (this.active.size) this.checkpointAsked = true;
  }

  async exportAdapter(runId: string, step: number): Promise<Uint8Array> {
    const files = await checkpointAdapterFiles(subFolder(await this.root(), runId), step);
    return zipSync(Object.fromEntries(files));
  }

  /**
   * The run these files and settings would make, as a cluster job (job-export.ts) zipped into
   * browser storage (OPFS exports/<folder>/), without the GPU or the memory check: this is the
   * way out when the run does not fit here. No stage-2 loss filter: it runs the model on the GPU.
   */
  async exportJob(req: JobRequest, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<ExportedFiles> {
    const { files, repo } = await this.modelFiles(req.modelId);
    const folder = `${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}-job`;
    const name = `${repo.split('/').pop() || 'model'}-job.zip`;
    const out = await opfsExportFolder(folder);
    try {
      const zip = zipSinks(await out.open(name));
      await exportJobFromFiles(
        files,
        { id: folder, model: { id: req.modelId, label: repo }, files: req.files, settings: req.settings, supervised: req.supervised },
        { baseName: repo, open: zip.open, signal, onProgress },
      );
      await zip.finish();
    } catch (err) {
      await removeExport(folder).catch(() => undefined); // nothing half-written is left
      throw err;
    }
    return { folder, files: [{ name, bytes: out.sizes.get(name) ?? 0 }] };
  }

  async deleteRun(runId: string): Promise<void> {
    if (this.active.has(runId)) throw new RunError('RUN_BUSY', 'This run is training: stop it before deleting it.');
    await (await this.root()).remove(runId);
  }
}
