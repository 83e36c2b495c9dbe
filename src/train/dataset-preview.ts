// What a run trains on, without a GPU: the model's tokenizer and chat template, the settings'
// dataset options, and the documents as training sees them (ids, text, loss mask). Used by
// `homecoder dataset`, the Train page's preview (through the training worker) and prepareRun.
import { parseConfig } from '../model/config.ts';
import { ModelTokenizer } from '../model/tokenizer.ts';
import { readJson, type ModelFiles } from '../model/storage/files.ts';
import type { ModelConfig } from '../model/types.ts';
import { datasetDocuments, type DatasetDocument, type DatasetSettings } from '../data/dataset/build.ts';
import { supervisedInput } from '../data/dataset/supervised-encode.ts';
import { countKinds, type BadLine, type SupervisedFile } from '../data/dataset/supervised.ts';
import type { TrainingFile } from '../data/types.ts';
import { validateSettings, type TrainSettings } from './settings.ts';

/** The dataset options of a run's settings. */
export function datasetSettingsOf(s: TrainSettings): DatasetSettings {
  return {
    seqLen: s.seqLen,
    seed: s.seed,
    fim: { fimRate: s.fimRate, spmRate: s.fimSpmRate, lineSplitRate: 0.9 },
    testFraction: s.testFraction,
    lossOnAnswersOnly: s.lossOnAnswersOnly,
    historyShare: s.historyShare,
    repoShare: s.repoShare,
  };
}

export interface TextModel {
  config: ModelConfig;
  tokenizer: ModelTokenizer;
  tokenizerConfig: unknown;
}

/** config.json and the tokenizer files only: no weights are read. */
export async function openTextModel(files: ModelFiles): Promise<TextModel> {
  const config = parseConfig(await readJson(files, 'config.json'));
  const tokenizer = await ModelTokenizer.load(files, config.vocabSize);
  const tokenizerConfig = await readJson<object>(files, 'tokenizer_config.json').catch(() => ({}));
  return { config, tokenizer, tokenizerConfig };
}

/** One document as `homecoder dataset` prints it. */
export interface DocumentJson {
  source: string;
  kind: DatasetDocument['kind'];
  split: DatasetDocument['split'];
  ids: number[];
  text: string;
  /** 1 where the token carries loss. */
  loss_mask: number[];
}

export function documentJson(d: DatasetDocument, tok: ModelTokenizer): DocumentJson {
  const ids = d.segments.flatMap((s) => s.ids);
  return {
    source: d.source,
    kind: d.kind,
    split: d.split,
    ids,
    text: tok.decode(ids),
    loss_mask: d.segments.flatMap((s) => s.ids.map(() => (s.train ? 1 : 0))),
  };
}

/** Everything the documents come from, read and checked: settings, supervised examples, bad lines so far. */
export function datasetInputs(m: TextModel, over: Partial<TrainSettings>, supervised: SupervisedFile[]) {
  const settings = validateSettings(over, m.config.maxPositionEmbeddings);
  const input = supervised.length ? supervisedInput(supervised, m.tokenizerConfig, m.tokenizer) : undefined;
  return { settings, dataset: datasetSettingsOf(settings), supervised: input };
}

export interface DatasetPreview {
  /** Counts by kind: code files (train/test), conversations, pairs; lines skipped. */
  counts: { trainFiles: number; testFiles: number; chats: number; pairs: number; badLines: number };
  bad: BadLine[];
  /** A few documents of each kind, in training order, each with its tokens as text. */
  documents: Array<DocumentJson & { tokens: string[] }>;
  chatTemplate: boolean;
}

/**
 * The Train page's preview: the counts, every bad line, and up to `perKind` documents of each
 * kind (code, conversation, pair), each cut to `maxTokens` tokens.
 */
export function previewDataset(
  m: TextModel,
  files: TrainingFile[],
  supervised: SupervisedFile[],
  over: Partial<TrainSettings>,
  o: { perKind?: number; maxTokens?: number } = {},
): DatasetPreview {
  const { dataset, supervised: input } = datasetInputs(m, over, supervised);
  const bad = [...(input?.bad ?? [])];
  const perKind = o.perKind ?? 2;
  const maxTokens = o.maxTokens ?? 160;
  const shown = new Map<string, number>();
  const documents: DatasetPreview['documents'] = [];
  let trainFiles = 0;
  let testFiles = 0;
  for (const d of datasetDocuments(files, m.tokenizer, dataset, { supervised: input }, (b) => bad.push(b))) {
    const group = d.kind === 'chat' || d.kind === 'pair' || d.kind === 'commit' ? d.kind : 'code';
    // A repository sequence is several files in one document.
    const files = d.kind === 'repo' ? (d.fimKinds?.length ?? 1) : 1;
    if (group === 'code' && d.split === 'train') trainFiles += files;
    else if (group === 'code') testFiles += files;
    if ((shown.get(group) ?? 0) >= perKind) continue;
    shown.set(group, (shown.get(group) ?? 0) + 1);
    const j = documentJson(d, m.tokenizer);
    const ids = j.ids.slice(0, maxTokens);
    documents.push({ ...j, ids, loss_mask: j.loss_mask.slice(0, maxTokens), tokens: ids.map((id) => m.tokenizer.decode([id])) });
  }
  const kinds = countKinds(input?.examples ?? []);
  return { counts: { trainFiles, testFiles, ...kinds, badLines: bad.length }, bad, documents, chatTemplate: !!input?.format };
}
