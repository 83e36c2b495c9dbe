// `homecoder serve`: the bridge with a headless backend — the model (and optionally a
// weighted mix of PEFT adapters) on the GPU through Dawn — so editors get completions
// without a browser tab. This command parses and wires; serving is src/serve/headless.ts.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadAdapterFolders, loadNodeModel } from '../open-model.ts';
import { nodeFiles } from '../../model/storage/node-files.ts';
import { parseConfig, servingContext } from '../../model/config.ts';
import { readJson } from '../../model/storage/files.ts';
import type { Combination } from '../../model/adapter-mix.ts';
import { openHeadlessService } from '../../serve/headless.ts';
import { LocalBackend } from '../../bridge/local-backend.ts';
import { startBridge } from '../../bridge/server.ts';
import { appDirOrNote, PACKAGE_ROOT, packageVersion } from '../../bridge/build.ts';
import { exposureWarning, LISTEN_ARGS, readListenOptions } from '../../bridge/listen-options.ts';

export const serveHelp = `Usage: homecoder serve --model DIR [--adapter DIR[=WEIGHT]]... [options]

Serves completions to editors from a model on this machine's GPU, without a browser:
the bridge's editor APIs (OpenAI /v1/completions, Ollama /api/generate, llama.cpp /infill,
TGI /generate, Tabby) with this process as the backend. The app is served too.

  --model DIR            Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --adapter DIR[=W]      PEFT LoRA adapter folder, with weight W (default 1); repeat to mix
  --combination C        how several adapters mix: cat (exact weighted sum, default) | linear (PEFT's)
  --context N            positions the KV cache holds (default: the model's, at most 4096)
  --host HOST            address to listen on (default 127.0.0.1; env HOMECODER_HOST)
  --port PORT            port (default 8008; env HOMECODER_PORT; 0 picks a free one)
  --api-key KEY          require "Authorization: Bearer KEY" on editor routes (env HOMECODER_API_KEY)
  --max-body BYTES       largest request body (default 1048576)
  --app-dir DIR          the built app to serve (default dist/)
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

  // --context is checked against the model's config before anything is loaded.
  const context = servingContext(values.context, parseConfig(await readJson(nodeFiles(values.model), 'config.json')));
  const engine = await loadNodeModel(values.model);
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
  });
  const warning = exposureWarning(listen.host);
  if (warning) console.warn(warning);
  const mix = info.adapters.length ? `, adapters ${info.adapters.map((a) => `${a.name}×${a.weight}`).join(' + ')}` : '';
  console.log(`Homecoder serve (${info.fim ?? 'no'} FIM, context ${info.contextLength}${mix}) is running at ${bridge.url}`);
  await stopSignal();
  await bridge.close();
  engine.close();
  return 0;
}
