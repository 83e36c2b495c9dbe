// `npm start`: one Node process that builds the app if needed and serves it.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureAppBuilt, PACKAGE_ROOT, packageVersion } from './build.ts';
import { exposureWarning, LISTEN_ARGS, readListenOptions } from './listen-options.ts';
import { startBridge } from './server.ts';

const HELP = `Usage: npm start -- [options]

Starts the Homecoder bridge: serves the app, and relays editors' completion requests
(OpenAI, Ollama, llama.cpp, TGI, Tabby APIs) to the app tab that has a model loaded.

Options:
  --host HOST     address to listen on (env HOMECODER_HOST; default 127.0.0.1).
                  Anything but loopback exposes the bridge to your network.
  --port PORT     port (env HOMECODER_PORT; default 8008; 0 picks a free one)
  --app-dir DIR   serve this built app instead of dist/
  --no-build      do not rebuild the app when its sources changed
  --api-key KEY   editors must send "Authorization: Bearer KEY" (env HOMECODER_API_KEY)
  --max-body N    largest editor request body in bytes (default 1048576)
  -h, --help      show this help

The bridge also proxies git fetches for the app's clones (/git-proxy/, upload-pack only);
HOMECODER_GIT_PROXY_MAX_MB caps one response (default 1024).
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...LISTEN_ARGS,
      'app-dir': { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const listen = readListenOptions(values, (m) => console.error(m));
  if (!listen) return 2;
  const { host, port } = listen;
  const appDir = resolve(values['app-dir'] ?? join(PACKAGE_ROOT, 'dist'));
  if (!values['no-build'] && !values['app-dir']) await ensureAppBuilt(PACKAGE_ROOT, appDir, (m) => console.log(m));
  const version = packageVersion();

  let bridge: Awaited<ReturnType<typeof startBridge>>;
  try {
    bridge = await startBridge({ ...listen, appDir, version });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      console.error(`Port ${port} on ${host} is in use: is Homecoder already running? Use --port to pick another.`);
    else console.error(`Could not listen on ${host}:${port}: ${e.message}`);
    return 1;
  }
  const warning = exposureWarning(host);
  if (warning) console.warn(warning);
  console.log(`Homecoder is running at ${bridge.url}`);
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
