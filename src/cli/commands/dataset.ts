// `homecoder dataset`: the documents a `homecoder train` run with the same flags trains on, as
// JSON lines {source, kind, split, ids, text, loss_mask}, in training order (train, then test),
// so a user can check what the model learns from. Needs no GPU: only the model's config and
// tokenizer are read.
import { parseArgs } from 'node:util';
import { nodeFiles } from '../../model/storage/node-files.ts';
import { datasetDocuments } from '../../data/dataset/build.ts';
import { describeBadLine, type BadLine } from '../../data/dataset/supervised.ts';
import { datasetInputs, documentJson, openTextModel } from '../../train/dataset-preview.ts';
import { validateSettings } from '../../train/settings.ts';
import { UsageError } from '../../errors.ts';
import { dataHelp, dataOptions, hasData, settingsFrom, settingsHelp, stage1, supervisedFrom, type Args } from '../data-args.ts';

export const datasetHelp = `Usage: homecoder dataset --model DIR [--source SRC] [--chat PATH] [--pairs PATH] [settings] [--limit N]

Prints what \`homecoder train\` trains on with the same flags, one JSON object a line, in
training order (the training documents, then the test ones):
  {"source": "repo/src/a.py" or "pairs.jsonl:12", "kind": "plain"|"psm"|"spm"|"chat"|"pair",
   "split": "train"|"test", "ids": [...], "text": "...", "loss_mask": [1 where the token carries loss]}
Bad lines of --chat and --pairs files are reported on standard error by line number and
skipped, as training skips them; a summary by kind ends standard error. The stage-2 loss filter
(a pass of the model on the GPU) is not run: this is exactly what a run with --no-loss-filter
trains on; with the filter, the files it rejects are left out of the run.

${dataHelp}
  --limit N            print the first N documents only
  --split S            train or test: print that split's documents only
${settingsHelp}
`;

export async function datasetCommand(argv: string[]): Promise<number> {
  const v = parseArgs({
    args: argv,
    options: { ...dataOptions(), limit: { type: 'string' }, split: { type: 'string' }, help: { type: 'boolean' } },
  }).values as Args;
  if (v.help) {
    process.stdout.write(datasetHelp);
    return 0;
  }
  if (!v.model || !hasData(v)) {
    process.stderr.write(`homecoder dataset: --model and --source, --chat or --pairs are required.\n\n${datasetHelp}`);
    return 2;
  }
  const limit = v.limit === undefined ? Number.POSITIVE_INFINITY : Number(v.limit);
  if (!(Number.isInteger(limit) || limit === Number.POSITIVE_INFINITY) || limit < 1)
    throw new UsageError(`--limit must be a positive integer, got "${v.limit}"`);
  if (v.split !== undefined && v.split !== 'train' && v.split !== 'test')
    throw new UsageError(`--split must be train or test, got "${v.split}"`);
  const over = settingsFrom(v);
  validateSettings(over); // before any source is read
  const note = (text: string) => process.stderr.write(`${text}\n`);
  const files = await stage1(v, note);
  const model = await openTextModel(nodeFiles(v.model as string));
  const { dataset, supervised } = datasetInputs(model, over, await supervisedFrom(v));
  const bad: BadLine[] = [...(supervised?.bad ?? [])];
  for (const b of bad) note(`skipped ${describeBadLine(b)}`);
  const counts = new Map<string, number>();
  let printed = 0;
  for (const d of datasetDocuments(files, model.tokenizer, dataset, { supervised }, (b) => {
    bad.push(b);
    note(`skipped ${describeBadLine(b)}`);
  })) {
    const key = `${d.split} ${d.kind}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (printed >= limit || (v.split && d.split !== v.split)) continue;
    process.stdout.write(`${JSON.stringify(documentJson(d, model.tokenizer))}\n`);
    printed++;
  }
  note(
    `${printed} documents printed; by split and kind: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}; ${bad.length} bad line${bad.length === 1 ? '' : 's'} skipped`,
  );
  return 0;
}
