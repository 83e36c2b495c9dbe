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
import { LocalBackend } from '../../bridge/local-backend.ts';
import { checkListen, startBridge } from '../../bridge/server.ts';
import { appDirOrNote, PACKAGE_ROOT, packageVersion } from '../../bridge/build.ts';
import { exposureWarning, LISTEN_ARGS, LISTEN_HELP, readListenOptions } from '../../bridge/listen-options.ts';
import { writeRuntimeFile } from '../../bridge/runtime-file.ts';

export const serveHelp = `Usage: homecoder serve --model DIR [--adapter DIR[=WEIGHT]]... [options]

Serves completions to editors from a model on this machine's GPU, without a browser:
the bridge's editor APIs (OpenAI /v1/completions, Ollama /api/generate, llama.cpp /infill,
TGI /generate, Tabby) with this process as the backend. The app is served too.

  --model DIR            Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --adapter DIR[=W]      PEFT LoRA adapter folder, with weight W (default 1); repeat to mix
  --combination C        how several adapters mix: cat (exact weighted sum, default) | linear (PEFT's)
  --context N            positions the KV cache holds (default: the model's, at most 4096)
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
      combination: { type: 'string', default: 'cat' },
      context: { type: 'string' },
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
  const listen = readListenOptions(values, (m) => process.stderr.write(`homecoder serve: ${m}\n`));
  if (!listen) return 2;
  checkListen(listen.host, listen.apiKey); // before the model loads: a refusal should not take minutes
  const kernels = parseKernelsOption(values.kernels);

  // --context is checked against the model's config before anything is loaded.
  const context = servingContext(values.context, parseConfig(await readJson(nodeFiles(values.model), 'config.json')));
  const engine = await loadNodeModel(values.model, { kernels });
  const adapters = await loadAdapterFolders((values.adapter ?? []).map(adapterSpec), engine.opened.config, values.model);
  const { service, info } = await openHeadlessService(engine, {
    base: resolve(values.model),
    adapters,
    combination,
    contextLength: context,
  });
  const bridge = await startBridge({
    ...listen,
    appDir: appDirOrNote(resolve(values['app-dir'] ?? join(PACKAGE_ROOT, 'dist')), (m) => console.warn(m)),
    version: packageVersion(),
    backend: new LocalBackend(service, info),
    allowTab: values['allow-tab'],
  });
  const warning = exposureWarning(listen.host);
  if (warning) console.warn(warning);
  const mix = info.adapters.length ? `, adapters ${info.adapters.map((a) => `${a.name}×${a.weight}`).join(' + ')}` : '';
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
