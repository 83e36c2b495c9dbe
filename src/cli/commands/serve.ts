// `homecoder serve`: the bridge with a headless backend — the model (and optionally a
// weighted mix of PEFT adapters) on the GPU through Dawn — so editors get completions
// without a browser tab.
import { readFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadNodeModel } from '../open-model.ts';
import { nodeFiles } from '../../model/storage/node-files.ts';
import { readPeftAdapter } from '../../model/peft.ts';
import { mixAdapters, type Combination } from '../../model/adapter-mix.ts';
import { expectedTensors } from '../../model/layout.ts';
import { GpuLora } from '../../gpu/lora.ts';
import { Decoder } from '../../gpu/decoder.ts';
import { withErrorScopes } from '../../gpu/device.ts';
import { CompletionService } from '../../serve/completion-service.ts';
import { LocalBackend } from '../../bridge/local-backend.ts';
import { checkListen, startBridge } from '../../bridge/server.ts';
import { deadlinesFromOptions } from '../../bridge/relay.ts';
import { DEFAULT_GIT_PROXY } from '../../bridge/git-proxy.ts';
import { writeRuntimeFile } from '../../bridge/runtime-file.ts';
import { isLoopbackAddress } from '../../bridge/hosts.ts';
import type { ModelConfig } from '../../model/types.ts';

export const serveHelp = `Usage: homecoder serve --model DIR [--adapter DIR[=WEIGHT]]... [options]

Serves completions to editors from a model on this machine's GPU, without a browser:
the bridge's editor APIs (OpenAI /v1/completions, Ollama /api/generate, llama.cpp /infill,
TGI /generate, Tabby) with this process as the backend. The app is served too.

  --model DIR            Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --adapter DIR[=W]      PEFT LoRA adapter folder, with weight W (default 1); repeat to mix
  --combination C        how several adapters mix: cat (exact weighted sum, default) | linear (PEFT's)
  --context N            positions the KV cache holds (default: the model's, at most 4096)
  --host HOST            address to listen on (default 127.0.0.1; env HOMECODER_HOST);
                         anything but loopback needs --api-key
  --port PORT            port (default 8008; env HOMECODER_PORT; 0 picks a free one)
  --api-key KEY          require "Authorization: Bearer KEY" on editor routes (env HOMECODER_API_KEY)
  --max-body BYTES       largest request body (default 1048576)
  --app-dir DIR          the built app to serve (default dist/)
  --allow-tab            let an app tab (opened with the printed link) attach as a backend too;
                         without it only this process serves
  --first-token-timeout S  seconds a request may wait for its first token (default 120)
  --request-timeout S    seconds a request may take in all (default 300); then 504
  --git-allow-host H[:P] let the app's git proxy reach this loopback/private host (repeat)

It prints the app's link with a secret (…/?token=…); \`homecoder url\` prints it again.
`;

export function parameterCount(c: ModelConfig): number {
  const seen = new Set<string>();
  let n = 0;
  for (const t of expectedTensors(c)) {
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    n += t.shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      combination: { type: 'string', default: 'cat' },
      context: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'api-key': { type: 'string' },
      'max-body': { type: 'string' },
      'app-dir': { type: 'string' },
      'allow-tab': { type: 'boolean', default: false },
      'first-token-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'git-allow-host': { type: 'string', multiple: true },
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
  const port = Number(values.port ?? process.env.HOMECODER_PORT ?? '8008');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a number from 0 to 65535`);
  const host = values.host ?? process.env.HOMECODER_HOST ?? '127.0.0.1';
  const maxBody = values['max-body'] ? Number(values['max-body']) : undefined;
  if (maxBody !== undefined && !(maxBody > 0)) throw new Error('--max-body must be a positive number of bytes');
  const apiKey = values['api-key'] ?? process.env.HOMECODER_API_KEY;
  checkListen(host, apiKey); // before the model loads: a refusal should not take minutes
  const deadlines = deadlinesFromOptions(values['first-token-timeout'], values['request-timeout']);

  const engine = await loadNodeModel(values.model);
  const config = engine.opened.config;
  const context = values.context ? Number(values.context) : Math.min(config.maxPositionEmbeddings, 4096);
  if (!Number.isInteger(context) || context < 16) throw new Error('--context must be an integer of at least 16');
  const parts = [];
  for (const spec of values.adapter ?? []) {
    const m = /^(.*?)(?:=(-?[\d.]+))?$/.exec(spec)!;
    const a = await readPeftAdapter(nodeFiles(m[1]), config);
    parts.push({ ...a, name: basename(resolve(m[1])), weight: m[2] === undefined ? 1 : Number(m[2]) });
  }
  const decoder = await withErrorScopes(
    engine.gpu.device,
    `allocating the KV cache for ${context} positions`,
    async () => new Decoder(engine.memory, engine.model, { contextLength: context }),
  );
  if (parts.length) {
    const mixed = mixAdapters(config, parts, combination);
    decoder.setAdapter(new GpuLora(engine.memory, mixed.lora, mixed.layers, { trainable: false }));
  }
  const service = new CompletionService(decoder, engine.tokenizer, config);
  const backend = new LocalBackend(service, {
    model: 'homecoder',
    base: resolve(values.model),
    adapters: parts.map((p) => ({ name: p.name, weight: p.weight })),
    fim: engine.tokenizer.fim?.family,
    contextLength: context,
    parameters: parameterCount(config),
  });
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  let appDir = resolve(values['app-dir'] ?? join(root, 'dist'));
  if (!existsSync(join(appDir, 'index.html'))) {
    console.warn(`Note: no built app in ${appDir} (run npm run build); the editor APIs work without it.`);
    appDir = mkdtempSync(join(tmpdir(), 'homecoder-no-app-'));
    writeFileSync(
      join(appDir, 'index.html'),
      '<!doctype html><title>Homecoder</title><p>The app is not built: run <code>npm run build</code>. Editor APIs are serving.</p>',
    );
  }
  const bridge = await startBridge({
    host,
    port,
    appDir,
    version,
    backend,
    apiKey,
    maxBodyBytes: maxBody,
    allowTab: values['allow-tab'],
    deadlines,
    gitProxy: { allowHosts: [...DEFAULT_GIT_PROXY.allowHosts, ...(values['git-allow-host'] ?? [])] },
  });
  if (!isLoopbackAddress(host)) console.warn(`Warning: listening on ${host}, not loopback: other machines can reach this bridge.`);
  const removeRuntimeFile = writeRuntimeFile({
    url: bridge.appUrl,
    pid: process.pid,
    port: Number(new URL(bridge.url).port),
    host,
    kind: 'serve',
  });
  console.log(
    `Homecoder serve (${engine.tokenizer.fim?.family ?? 'no'} FIM, context ${context}${parts.length ? `, adapters ${parts.map((p) => `${p.name}×${p.weight}`).join(' + ')}` : ''}) is running at ${bridge.appUrl}`,
  );
  await new Promise<void>((done) => {
    const stop = () =>
      void bridge.close().then(() => {
        removeRuntimeFile();
        engine.close();
        done();
      });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
