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

export const exportHelp = `Usage: homecoder export --model DIR [--adapter DIR[=W]]... --format F --out DIR
       homecoder export --model DIR --run DIR --format job --out DIR

Writes the model for other tools (see docs/EXPORT.md for llama.cpp, Ollama and LM Studio):

  --model DIR         Hugging Face model folder (the base)
  --adapter DIR[=W]   PEFT LoRA adapter folder with weight W (default 1); repeat to mix
  --combination C     how several adapters mix: cat (exact weighted sum, default) | linear (PEFT's)
  --format F          ${EXPORT_FORMATS.join(' | ')}
                        hf         merged Hugging Face folder (safetensors in the base's dtype)
                        gguf-f16   GGUF (F16) of the base or merged model, with an Ollama Modelfile
                        gguf-q8_0  the same, 8-bit quantised (Q8_0)
                        gguf-q4_k  the same, 4-bit (Q4_K; weights whose rows are not a multiple of 256 as Q8_0)
                        gguf-lora  the adapters alone as a llama.cpp LoRA adapter (--lora)
                        job        a training run (--run: the folder \`homecoder train --out\` wrote) as a
                                   GPU-cluster job: its dataset as JSONL, settings, train.py for
                                   PEFT + Transformers on accelerate (FSDP, DeepSpeed ZeRO-3)
  --run DIR           the run folder (--format job)
  --out DIR           output folder (created)
  --quiet             no progress lines
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
  if (values.format === 'job') {
    if (!values.run) throw new UsageError('--format job needs --run DIR: the folder `homecoder train --out` wrote');
    // Loaded only here: the training modules would slow every other command's start.
    const [{ exportJob }, { nodeRunFolder }] = await Promise.all([
      import('../../train/job-export.ts'),
      import('../../train/node-run-folder.ts'),
    ]);
    const written = await exportJob(nodeRunFolder(values.run), nodeFiles(values.model), basename(resolve(values.model)), (name) =>
      fileSink(join(out, name)),
    );
    for (const f of written) console.log(join(out, f));
    return 0;
  }
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
