// `npm start`: one Node process that builds the app if needed and serves it.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureAppBuilt } from './build.ts';
import { deadlinesFromOptions } from './relay.ts';
import { DEFAULT_GIT_PROXY } from './git-proxy.ts';
import { isLoopbackAddress } from './hosts.ts';
import { startBridge } from './server.ts';
import { BridgeError } from './errors.ts';
import { writeRuntimeFile } from './runtime-file.ts';

const HELP = `Usage: npm start -- [options]

Starts the Homecoder bridge: serves the app, and relays editors' completion requests
(OpenAI, Ollama, llama.cpp, TGI, Tabby APIs) to the app tab that has a model loaded.

Options:
  --host HOST     address to listen on (env HOMECODER_HOST; default 127.0.0.1).
                  Anything but loopback exposes the bridge to your network,
                  and needs --api-key.
  --port PORT     port (env HOMECODER_PORT; default 8008; 0 picks a free one)
  --app-dir DIR   serve this built app instead of dist/
  --no-build      do not rebuild the app when its sources changed
  --api-key KEY   editors must send "Authorization: Bearer KEY" (env HOMECODER_API_KEY);
                  every route but the app and /health then needs the key (or the app's cookie)
  --max-body N    largest editor request body in bytes (default 1048576)
  --first-token-timeout S   seconds a request may wait for its first token (default 120)
  --request-timeout S       seconds a request may take in all (default 300); then 504
  --git-allow-host HOST[:PORT]  let the git proxy reach this host although it is on
                  loopback or a private network (repeat; env HOMECODER_GIT_ALLOW_HOSTS)
  --hub-origin URL  another model hub the app may download from (repeat)
  -h, --help      show this help

It prints the app's link with a secret (http://127.0.0.1:8008/?token=…): open that link;
the secret keeps other programs and web pages from taking over the app's connection.
\`homecoder url\` prints it again.

The bridge also proxies git fetches for the app's clones (/git-proxy/, upload-pack only,
public hosts only); HOMECODER_GIT_PROXY_MAX_MB caps one response (default 1024).
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'app-dir': { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      'api-key': { type: 'string' },
      'max-body': { type: 'string' },
      'first-token-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'git-allow-host': { type: 'string', multiple: true },
      'hub-origin': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const host = values.host ?? process.env.HOMECODER_HOST ?? '127.0.0.1';
  const portText = values.port ?? process.env.HOMECODER_PORT ?? '8008';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Invalid port "${portText}": give a number from 0 to 65535.`);
    return 2;
  }
  const appDir = resolve(values['app-dir'] ?? join(root, 'dist'));
  if (!values['no-build'] && !values['app-dir']) await ensureAppBuilt(root, appDir, (m) => console.log(m));
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

  let bridge: Awaited<ReturnType<typeof startBridge>>;
  try {
    const maxBodyBytes = values['max-body'] ? Number(values['max-body']) : undefined;
    if (maxBodyBytes !== undefined && !(maxBodyBytes > 0))
      throw new Error(`--max-body must be a positive number of bytes, not "${values['max-body']}"`);
    bridge = await startBridge({
      host,
      port,
      appDir,
      version,
      apiKey: values['api-key'] ?? process.env.HOMECODER_API_KEY,
      maxBodyBytes,
      deadlines: deadlinesFromOptions(values['first-token-timeout'], values['request-timeout']),
      gitProxy: { allowHosts: [...DEFAULT_GIT_PROXY.allowHosts, ...(values['git-allow-host'] ?? [])] },
      hubOrigins: (values['hub-origin'] ?? []).map((o) => {
        try {
          return new URL(o).origin; // only an origin goes into the CSP header
        } catch {
          throw new BridgeError('BRIDGE_BAD_OPTION', `--hub-origin must be a URL such as https://hub.example, not "${o}".`);
        }
      }),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof BridgeError) console.error(err.message);
    else if (e.code === 'EADDRINUSE')
      console.error(`Port ${port} on ${host} is in use: is Homecoder already running? Use --port to pick another.`);
    else console.error(`Could not listen on ${host}:${port}: ${e.message}`);
    return 1;
  }
  if (!isLoopbackAddress(host)) console.warn(`Warning: listening on ${host}, not loopback: other machines can reach this bridge.`);
  writeRuntimeFile({ url: bridge.appUrl, pid: process.pid, port: Number(new URL(bridge.url).port), host, kind: 'start' });
  console.log(`Homecoder is running at ${bridge.appUrl}`);
  console.log('Open that link in Chrome (it carries the secret that lets the app in); `homecoder url` prints it again.');
  const stop = () => void bridge.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
