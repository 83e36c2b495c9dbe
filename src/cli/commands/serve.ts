// `homecoder serve`: the bridge with a headless backend — the model (and optionally a
// weighted mix of PEFT adapters) on the GPU through Dawn — so editors get completions
// without a browser tab. This command parses and wires; serving is src/serve/headless.ts.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadAdapterFolders, loadNodeModel } from '../open-model.ts';
import { KERNELS_HELP, KERNELS_OPTION, parseKernelsOption } from '../kernels-option.ts';
import { nodeFiles } from '../../model/storage/node-files.ts';
import { parseConfig, servingContext } from '../../model/config.ts';
import { readJson } from '../../model/storage/files.ts';
import type { Combination } from '../../model/adapter-mix.ts';
import { openHeadlessService } from '../../serve/headless.ts';
import { DEFAULT_REPO_CONTEXT } from '../../serve/repo-context.ts';
import { LocalBackend } from '../../bridge/local-backend.ts';
import { checkListen, startBridge } from '../../bridge/server.ts';
import { appDirOrNote, PACKAGE_ROOT, packageVersion } from '../../bridge/build.ts';
import { exposureWarning, LISTEN_ARGS, LISTEN_HELP, readListenOptions } from '../../bridge/listen-options.ts';
import { writeRuntimeFile } from '../../bridge/runtime-file.ts';
import { ADAPTER_NAME } from '../../serve/model-names.ts';
import { importAndFilter } from '../../data/node-pipeline.ts';
import { RepoIndex } from '../../data/repo-index.ts';
import { UsageError } from '../../errors.ts';

export const serveHelp = `Usage: homecoder serve --model DIR [--adapter DIR[=WEIGHT]]... [options]

Serves completions to editors from a model on this machine's GPU, without a browser:
the bridge's editor APIs (OpenAI /v1/completions, Ollama /api/generate, llama.cpp /infill,
TGI /generate, Tabby) with this process as the backend. The app is served too.

  --model DIR            Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --adapter DIR[=W]      PEFT LoRA adapter folder, with weight W (default 1); repeat to mix
  --named-adapter NAME=DIR
                         a PEFT adapter requests pick by model name homecoder:NAME (repeatable);
                         \`homecoder\` stays the base (or the --adapter mix); no reload per switch
  --combination C        how several adapters mix: cat (exact weighted sum, default) | linear (PEFT's)
  --context N            positions the KV cache holds (default: the model's, at most 4096)
  --kv-cache T           KV cache storage: auto (f16 where the GPU has shader-f16, default) | f16 | f32
  --gpu-memory GiB       GPU memory serving may use: one adapter is served merged into a 16-bit copy
                         of the weights it targets (base dispatches per token) only when that copy
                         fits; otherwise unmerged (slower; said once). Default: merged unless the
                         GPU is out of memory
  --no-merge             serve one adapter unmerged (LoRA products per projection: more dispatches
                         per token, no 16-bit rounding of W + s·B·A, no copy of the weights)
  --context-source DIR   add repository context from DIR's files (what \`homecoder filter\` accepts)
                         to completions whose request carries none; repeatable
  --context-budget N     tokens of repository context a completion may get (default 512)
${LISTEN_HELP}  --app-dir DIR          the built app to serve (default dist/)
  --allow-tab            let an app tab (opened with the printed link) attach as a backend too;
                         without it only this process serves
${KERNELS_HELP}

It prints the app's link with a secret (…/?token=…); \`homecoder url\` prints it again.
`;

/** `DIR` or `DIR=WEIGHT`. */
function adapterSpec(spec: string): { dir: string; weight: number } {
  const m = /^(.*?)(?:=(-?[\d.]+))?$/.exec(spec)!;
  return { dir: m[1], weight: m[2] === undefined ? 1 : Number(m[2]) };
}

/** `NAME=DIR`: a name editors pick the adapter by (model `homecoder:NAME`). */
export function namedAdapterSpec(spec: string): { name: string; dir: string } {
  const i = spec.indexOf('=');
  const name = i > 0 ? spec.slice(0, i) : '';
  if (!ADAPTER_NAME.test(name) || name === 'latest' || i === spec.length - 1)
    throw new UsageError(
      `--named-adapter ${spec}: give NAME=DIR, NAME of letters, digits, '.', '-' or '_' (not "latest"), e.g. --named-adapter docstrings=./adapters/docstrings.`,
      'named-adapter',
    );
  return { name, dir: spec.slice(i + 1) };
}

/** The repository-context index of --context-source folders: their files that pass the stage-1 filter. */
async function contextIndex(dirs: string[]): Promise<RepoIndex> {
  const { accepted, summary } = await importAndFilter(dirs);
  if (!accepted.length)
    throw new UsageError(
      `--context-source: no file in ${dirs.join(', ')} passed the filter${summary.explanation ? ` (${summary.explanation})` : ''}; give a folder with source code.`,
    );
  const index = RepoIndex.fromFiles(accepted);
  console.log(
    `Repository context: ${index.files} files (${index.chunks.length} snippets) from ${dirs.join(', ')}; ${summary.total - summary.accepted} files left out by the filter.`,
  );
  return index;
}

/** Resolves on the first SIGINT or SIGTERM. */
function stopSignal(): Promise<void> {
  return new Promise((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      'named-adapter': { type: 'string', multiple: true },
      combination: { type: 'string', default: 'cat' },
      context: { type: 'string' },
      'kv-cache': { type: 'string', default: 'auto' },
      'gpu-memory': { type: 'string' },
      'no-merge': { type: 'boolean', default: false },
      'context-source': { type: 'string', multiple: true },
      'context-budget': { type: 'string' },
      ...LISTEN_ARGS,
      'app-dir': { type: 'string' },
      'allow-tab': { type: 'boolean', default: false },
      ...KERNELS_OPTION,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(serveHelp);
    return 0;
  }
  if (!values.model) {
    process.stderr.write(`homecoder serve: give --model DIR.\n\n${serveHelp}`);
    return 2;
  }
  const combination = values.combination as Combination;
  if (combination !== 'cat' && combination !== 'linear') throw new Error(`--combination must be cat or linear, not ${combination}`);
  const namedSpecs = (values['named-adapter'] ?? []).map(namedAdapterSpec);
  const dup = namedSpecs.find((n, i) => namedSpecs.findIndex((m) => m.name === n.name) !== i);
  if (dup) throw new UsageError(`--named-adapter ${dup.name} is given twice: each name picks one adapter.`, 'named-adapter');
  const kvCache = values['kv-cache'];
  if (kvCache !== 'auto' && kvCache !== 'f16' && kvCache !== 'f32') {
    process.stderr.write(`homecoder serve: --kv-cache must be auto, f16 or f32, not ${kvCache}.\n`);
    return 2;
  }
  const gpuMemory = values['gpu-memory'] === undefined ? undefined : Number(values['gpu-memory']) * 2 ** 30;
  if (gpuMemory !== undefined && !(gpuMemory > 0)) {
    process.stderr.write(`homecoder serve: --gpu-memory must be a positive number of GiB, not ${values['gpu-memory']}.\n`);
    return 2;
  }
  const listen = readListenOptions(values, (m) => process.stderr.write(`homecoder serve: ${m}\n`));
  if (!listen) return 2;
  checkListen(listen.host, listen.apiKey); // before the model loads: a refusal should not take minutes
  const kernels = parseKernelsOption(values.kernels);

  const contextBudget = Number(values['context-budget'] ?? DEFAULT_REPO_CONTEXT.budget);
  if (!Number.isInteger(contextBudget) || contextBudget < 1)
    throw new UsageError(`--context-budget must be a whole number of tokens above 0, not "${values['context-budget']}".`);
  // The index is built before the model loads: a wrong folder should not take minutes to report.
  const repoIndex = values['context-source']?.length ? await contextIndex(values['context-source']) : undefined;

  // --context is checked against the model's config before anything is loaded.
  const context = servingContext(values.context, parseConfig(await readJson(nodeFiles(values.model), 'config.json')));
  const engine = await loadNodeModel(values.model, { kernels });
  const adapters = await loadAdapterFolders((values.adapter ?? []).map(adapterSpec), engine.opened.config, values.model);
  const named = await loadAdapterFolders(
    namedSpecs.map((n) => ({ dir: n.dir, weight: 1 })),
    engine.opened.config,
    values.model,
  );
  const { service, info } = await openHeadlessService(engine, {
    base: resolve(values.model),
    adapters,
    named: named.map((a, i) => ({ ...a, name: namedSpecs[i].name })),
    combination,
    contextLength: context,
    kvCache,
    gpuMemory,
    merge: !values['no-merge'],
  });
  if (repoIndex) service.setRepoContext(repoIndex, { ...DEFAULT_REPO_CONTEXT, budget: contextBudget });
  const bridge = await startBridge({
    ...listen,
    appDir: appDirOrNote(resolve(values['app-dir'] ?? join(PACKAGE_ROOT, 'dist')), (m) => console.warn(m)),
    version: packageVersion(),
    backend: new LocalBackend(service, info),
    allowTab: values['allow-tab'],
  });
  const warning = exposureWarning(listen.host);
  if (warning) console.warn(warning);
  const mix =
    (info.adapters.length ? `, adapters ${info.adapters.map((a) => `${a.name}×${a.weight}`).join(' + ')}` : '') +
    (info.named?.length ? `, named ${info.named.map((n) => `homecoder:${n}`).join(', ')}` : '');
  const removeRuntimeFile = writeRuntimeFile({
    url: bridge.appUrl,
    pid: process.pid,
    port: Number(new URL(bridge.url).port),
    host: listen.host,
    kind: 'serve',
  });
  console.log(`Homecoder serve (${info.fim ?? 'no'} FIM, context ${info.contextLength}${mix}) is running at ${bridge.appUrl}`);
  await stopSignal();
  await bridge.close();
  removeRuntimeFile();
  engine.close();
  return 0;
}
