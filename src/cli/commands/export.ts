// `homecoder export`: the base model, or it with PEFT adapters merged, as a Hugging Face
// folder or GGUF for llama.cpp / Ollama / LM Studio, or the adapters as a GGUF LoRA. No GPU:
// the merge runs on the CPU, one tensor at a time, and every file is streamed to disk.
import { open as openFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Combination } from '../../model/adapter-mix.ts';
import { openModel } from '../../model/loader.ts';
import { baseModelWarning, readPeftAdapter } from '../../model/peft.ts';
import { nodeFiles } from '../../model/storage/node-files.ts';
import { EXPORT_FORMATS, exportModel, parseExportFormat, type NamedWeightedAdapter } from '../../model/export/export-model.ts';
import type { ByteSink } from '../../model/export/sink.ts';
import { UsageError } from '../../errors.ts';
import type { Progress } from '../../progress.ts';
import { validateSettings } from '../../train/settings.ts';
import {
  dataOptions,
  hasData,
  settingsFrom,
  settingsHelp,
  sourcesHelp,
  stage1,
  supervisedFrom,
  type Args,
  type Say,
} from '../data-args.ts';

export const exportHelp = `Usage: homecoder export --model DIR [--adapter DIR[=W]]... --format F --out DIR
       homecoder export --model DIR --source SRC... [settings] --format job --out DIR
       homecoder export --model DIR --run DIR --format job --out DIR

Writes the model for other tools (see docs/EXPORT.md for llama.cpp, Ollama and LM Studio):

  --model DIR         Hugging Face model folder (the base)
  --adapter DIR[=W]   PEFT LoRA adapter folder with weight W (default 1); repeat to mix
  --combination C     how several adapters mix: cat (exact weighted sum, default) | linear (PEFT's)
  --format F          ${[...EXPORT_FORMATS, 'job'].join(' | ')}
                        hf         merged Hugging Face folder (safetensors in the base's dtype)
                        gguf-f16   GGUF (F16) of the base or merged model, with an Ollama Modelfile
                        gguf-q8_0  the same, 8-bit quantised (Q8_0)
                        gguf-q4_k  the same, 4-bit (Q4_K; weights whose rows are not a multiple of 256 as Q8_0)
                        gguf-lora  the adapters alone as a llama.cpp LoRA adapter (--lora)
                        job        a training run as a GPU-cluster job: its dataset as JSONL, settings,
                                   train.py for PEFT + Transformers on accelerate (FSDP, DeepSpeed
                                   ZeRO-3). From --source and the settings of \`homecoder train\`
                                   (the dataset built as train builds it, without the GPU or the
                                   memory check: for runs that do not fit), or from --run
  --run DIR           the run folder \`homecoder train --out\` wrote (--format job)
  --out DIR           output folder (created)
  --quiet             no progress lines

With --format job and --source, the sources and settings of \`homecoder train\` (the job has no
stage-2 loss filter, which runs the model on a GPU: its dataset is \`train --no-loss-filter\`'s):
${sourcesHelp}
${settingsHelp}
`;

/** `DIR` or `DIR=WEIGHT`. */
function adapterSpec(spec: string): { dir: string; weight: number } {
  const m = /^(.*?)(?:=(-?[\d.]+))?$/.exec(spec)!;
  const weight = m[2] === undefined ? 1 : Number(m[2]);
  if (!Number.isFinite(weight)) throw new UsageError(`--adapter ${spec}: the weight after = must be a number`);
  return { dir: m[1], weight };
}

/** A file written in order through one handle. */
async function fileSink(path: string): Promise<ByteSink> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await openFile(path, 'w');
  return {
    write: async (chunk) => {
      let done = 0;
      while (done < chunk.byteLength) done += (await fh.write(chunk, done, chunk.byteLength - done)).bytesWritten;
    },
    close: () => fh.close(),
  };
}

/** The flags only a job from sources takes (the sources, supervised data and settings). */
const jobFlags = () => Object.keys(dataOptions()).filter((k) => k !== 'model');
/** A flag on the command line (a boolean's parseArgs default, false, is not). */
const given = (v: Args) => (k: string) => v[k] !== undefined && v[k] !== false;

/** --format job: from a run folder (--run) or from the sources and settings (--source). */
async function exportJobCommand(v: Args, out: string): Promise<number> {
  if (!!v.run === hasData(v))
    throw new UsageError(
      v.run
        ? '--format job takes --run DIR or --source (with settings), not both.'
        : '--format job needs --source SRC, --chat or --pairs (with the settings of `homecoder train`) or --run DIR: the folder `homecoder train --out` wrote.',
    );
  if (v['loss-threshold'] !== undefined)
    throw new UsageError(
      '--loss-threshold: a job has no stage-2 loss filter (it runs the model on a GPU); its dataset is the stage-1 files, as `homecoder train --no-loss-filter`.',
    );
  if (v.run && jobFlags().some(given(v)))
    throw new UsageError('--run exports the run with its own settings and dataset; drop the source and setting flags.');
  const modelDir = v.model as string;
  const say: Say = (text) => !v.quiet && process.stderr.write(`${text}\n`);
  // Loaded only here: the training modules would slow every other command's start.
  const [{ exportJob, exportJobFromFiles }, { nodeRunFolder }] = await Promise.all([
    import('../../train/job-export.ts'),
    import('../../train/node-run-folder.ts'),
  ]);
  let lastPhase = '';
  const o = {
    baseName: basename(resolve(modelDir)),
    open: (name: string) => fileSink(join(out, name)),
    onProgress: (p: Progress) => {
      if (v.quiet || (p.phase === lastPhase && p.done !== p.total)) return;
      lastPhase = p.phase;
      process.stderr.write(`${p.phase} ${p.done}/${p.total}\n`);
    },
  };
  let written: string[];
  if (v.run) written = await exportJob(nodeRunFolder(v.run as string), nodeFiles(modelDir), o);
  else {
    // Checked before any source is read, as `homecoder train` does.
    const settings = settingsFrom(v);
    validateSettings(settings);
    const supervised = await supervisedFrom(v);
    const files = await stage1(v, say);
    written = await exportJobFromFiles(
      nodeFiles(modelDir),
      {
        id: basename(out),
        model: { id: resolve(modelDir), label: basename(resolve(modelDir)) },
        files,
        settings,
        supervised,
      },
      o,
    );
  }
  for (const f of written) console.log(join(out, f));
  return 0;
}

export async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      combination: { type: 'string', default: 'cat' },
      format: { type: 'string' },
      run: { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      // Accepted so a train command line can be reused; the job never runs stage 2.
      'no-loss-filter': { type: 'boolean' },
      'loss-threshold': { type: 'string' },
      ...dataOptions(),
    },
  });
  if (values.help) {
    process.stdout.write(exportHelp);
    return 0;
  }
  if (!values.model || !values.out || !values.format) {
    process.stderr.write(`homecoder export: --model, --format and --out are required.\n\n${exportHelp}`);
    return 2;
  }
  const out = resolve(values.out);
  const v = values as Args;
  if (values.format === 'job') {
    if (values.adapter) throw new UsageError('--adapter: a job trains a new adapter; drop --adapter with --format job.');
    return exportJobCommand(v, out);
  }
  const jobOnly = [...jobFlags(), 'run', 'no-loss-filter', 'loss-threshold'].filter(given(v));
  if (jobOnly.length) throw new UsageError(`${jobOnly.map((f) => `--${f}`).join(', ')}: only with --format job.`);
  const format = parseExportFormat(values.format);
  const combination = values.combination as Combination;
  if (combination !== 'cat' && combination !== 'linear') throw new UsageError(`--combination must be cat or linear, not ${combination}`);
  const files = nodeFiles(values.model);
  const model = await openModel(files);
  const baseName = basename(resolve(values.model));
  const adapters: NamedWeightedAdapter[] = [];
  for (const s of (values.adapter ?? []).map(adapterSpec)) {
    const a = await readPeftAdapter(nodeFiles(s.dir), model.config);
    const warning = baseModelWarning(a.baseModel, baseName, `Adapter ${s.dir}`);
    if (warning) console.warn(`Warning: ${warning}`);
    adapters.push({ name: basename(resolve(s.dir)), weight: s.weight, lora: a.lora, layers: a.layers });
  }
  await mkdir(out, { recursive: true });
  let lastPct = -1;
  const written = await exportModel({
    model,
    files,
    baseName,
    adapters,
    combination,
    format,
    open: (name) => fileSink(join(out, name)),
    progress: (done, total, what) => {
      const pct = Math.floor((100 * done) / total);
      if (values.quiet || pct === lastPct) return;
      lastPct = pct;
      process.stderr.write(`\r${String(pct).padStart(3)}%  ${what.slice(0, 60).padEnd(60)}`);
    },
  });
  if (!values.quiet) process.stderr.write('\n');
  for (const f of written) console.log(join(out, f));
  return 0;
}
