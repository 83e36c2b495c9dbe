// One export, DOM-free (the CLI and the page share it): a base model and weighted PEFT
// adapters in, the chosen format's files out through a SinkFactory:
// - hf:        the merged Hugging Face folder
// - gguf-f16, gguf-q8_0, gguf-q4_k: <name>-<quant>.gguf of the base or merged model + an Ollama Modelfile
// - gguf-lora: <name>-lora.gguf, the adapters (mixed into one) as a llama.cpp LoRA adapter
import { mixAdapters, type Combination, type WeightedAdapter } from '../adapter-mix.ts';
import type { OpenModel } from '../loader.ts';
import { readJson, type ModelFiles } from '../storage/files.ts';
import { ModelTokenizer } from '../tokenizer.ts';
import { ExportError } from './errors.ts';
import { writeGguf } from './gguf.ts';
import { ggufLoraPlan } from './gguf-lora.ts';
import { ggufModelPlan } from './gguf-model.ts';
import { TOKENIZER_FILES, writeHfFolder } from './hf-folder.ts';
import { exportWeights, type MergeAdapter } from './merge.ts';
import { ollamaModelfile } from './modelfile.ts';
import type { ExportProgress, SinkFactory } from './sink.ts';

export const EXPORT_FORMATS = ['hf', 'gguf-f16', 'gguf-q8_0', 'gguf-q4_k', 'gguf-lora'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface NamedWeightedAdapter extends WeightedAdapter {
  name: string;
}

export interface ExportRequest {
  model: OpenModel;
  /** The base model's folder (tokenizer files are read from it). */
  files: ModelFiles;
  /** What the base is called (hub id or folder name): the model card and GGUF general.name. */
  baseName: string;
  adapters: NamedWeightedAdapter[];
  combination?: Combination;
  format: ExportFormat;
  open: SinkFactory;
  progress?: ExportProgress;
}

export function parseExportFormat(s: string | undefined): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(s ?? ''))
    throw new ExportError('EXPORT_BAD_FORMAT', `--format ${s ?? '(none)'}: give one of ${EXPORT_FORMATS.join(', ')}.`, { format: s });
  return s as ExportFormat;
}

/** The adapters as one: a single adapter at weight 1 as it is, else their mix. */
export function combinedAdapter(req: Pick<ExportRequest, 'model' | 'adapters' | 'combination'>): MergeAdapter | undefined {
  const used = req.adapters.filter((a) => a.weight !== 0);
  if (used.length === 0) return undefined;
  if (used.length === 1 && used[0].weight === 1) return { lora: used[0].lora, layers: used[0].layers };
  return mixAdapters(req.model.config, used, req.combination ?? 'cat');
}

/** Writes the export; returns the names of the files written. */
export async function exportModel(req: ExportRequest): Promise<string[]> {
  const adapter = combinedAdapter(req);
  const suffix = req.adapters.length ? `-${req.adapters.map((a) => a.name).join('+')}` : '';
  const name = `${req.baseName.split('/').at(-1)}${suffix}`.replace(/[^\w.+-]+/g, '_');
  if (req.format === 'gguf-lora') {
    if (!adapter)
      throw new ExportError(
        'EXPORT_NEEDS_ADAPTER',
        'gguf-lora writes an adapter: give at least one --adapter with a non-zero weight (or export gguf-f16 for the base model).',
        { format: req.format },
      );
    const plan = ggufLoraPlan(req.model.config, adapter, name);
    const file = `${name}-lora.gguf`;
    await writeGguf(await req.open(file), plan.metadata, plan.tensors, req.progress);
    return [file];
  }
  const weights = exportWeights(req.model, adapter);
  if (req.format === 'hf') {
    const baseFiles = new Map<string, Uint8Array>();
    for (const f of TOKENIZER_FILES) {
      const src = await req.files.open(f);
      if (src) baseFiles.set(f, await src.read(0, src.size));
    }
    return writeHfFolder(
      weights,
      baseFiles,
      {
        base: req.baseName,
        adapters: req.adapters.map((a) => ({ name: a.name, weight: a.weight, r: a.lora.r, alpha: a.lora.alpha, targets: a.lora.targets })),
        combination: req.adapters.length > 1 ? (req.combination ?? 'cat') : undefined,
      },
      req.open,
      { progress: req.progress },
    );
  }
  const quant = req.format === 'gguf-f16' ? 'f16' : req.format === 'gguf-q8_0' ? 'q8_0' : 'q4_k';
  const [tokenizerJson, tokenizerConfig] = await Promise.all([
    readJson<object>(req.files, 'tokenizer.json'),
    readJson<object>(req.files, 'tokenizer_config.json').catch(() => ({})),
  ]);
  const plan = ggufModelPlan(weights, { tokenizerJson, tokenizerConfig }, quant, name);
  const file = `${name}-${quant}.gguf`;
  await writeGguf(await req.open(file), plan.metadata, plan.tensors, req.progress);
  const tok = new ModelTokenizer(tokenizerJson, tokenizerConfig);
  const eos = (tokenizerConfig as { eos_token?: string | { content: string } }).eos_token;
  const modelfile = ollamaModelfile({
    gguf: file,
    fim: tok.fim?.family,
    eos: typeof eos === 'string' ? eos : eos?.content,
    contextLength: req.model.config.maxPositionEmbeddings,
  });
  const sink = await req.open('Modelfile');
  await sink.write(new TextEncoder().encode(modelfile));
  await sink.close();
  return [file, 'Modelfile'];
}
