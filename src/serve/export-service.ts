// The Use page's export, in the engine worker: what serves now (the loaded base and the
// adapters mixed with their weights) written in a chosen format into browser storage
// (OPFS exports/<folder>/), streamed tensor by tensor; the page then offers the files as
// downloads straight from OPFS, so nothing large is held in memory.
import { openModel } from '../model/loader.ts';
import { readPeftAdapter } from '../model/peft.ts';
import type { AdapterSource } from '../model/storage/adapter-store.ts';
import { exportModel, parseExportFormat, type NamedWeightedAdapter } from '../model/export/export-model.ts';
import { opfsExportFolder } from '../model/storage/opfs-exports.ts';
import { abortError, type Progress } from '../progress.ts';
import { CompletionError } from './errors.ts';
import type { InferenceService } from './inference-service.ts';
import type { ModelService } from './model-service.ts';

export interface ExportedFiles {
  /** The folder under OPFS exports/. */
  folder: string;
  files: Array<{ name: string; bytes: number }>;
}

export async function exportServing(
  models: ModelService,
  inference: InferenceService,
  adapters: AdapterSource,
  format: string,
  signal: AbortSignal,
  onProgress: (p: Progress) => void,
): Promise<ExportedFiles> {
  const cur = models.current;
  if (!cur) throw new CompletionError('NO_MODEL', 'Load a model on the Model page first.');
  const fmt = parseExportFormat(format);
  const model = await openModel(cur.files);
  const parts: NamedWeightedAdapter[] = [];
  const choice = inference.currentChoice;
  for (const a of choice.adapters.filter((x) => x.weight !== 0)) {
    const peft = await readPeftAdapter(await adapters.files(a.id), model.config);
    parts.push({ ...peft, name: a.id.split('/').pop() ?? a.id, weight: a.weight });
  }
  const folder = `${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}-${fmt}`;
  const out = await opfsExportFolder(folder);
  const baseName =
    cur.info.source
      .replace(/^folder:/, '')
      .replace(/@.*$/, '')
      .split(/[\\/]|--/)
      .pop() || 'model';
  const names = await exportModel({
    model,
    files: cur.files,
    baseName,
    adapters: parts,
    combination: choice.combination,
    format: fmt,
    open: out.open,
    progress: (done, total, what) => {
      if (signal.aborted) throw abortError();
      onProgress({ phase: 'exporting', done, total, detail: what });
    },
  });
  return { folder, files: names.map((name) => ({ name, bytes: out.sizes.get(name) ?? 0 })) };
}
