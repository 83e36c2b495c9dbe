// `npm start`: one Node process that builds the app if needed and serves it.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureAppBuilt, PACKAGE_ROOT, packageVersion } from './build.ts';
import { exposureWarning, LISTEN_ARGS, LISTEN_HELP, readListenOptions } from './listen-options.ts';
import { startBridge } from './server.ts';
import { BridgeError } from './errors.ts';
import { writeRuntimeFile } from './runtime-file.ts';
import { Pairings } from './pairing.ts';

const HELP = `Usage: npm start -- [options]

Starts the Homecoder bridge: serves the app, and relays editors' completion requests
(OpenAI, Ollama, llama.cpp, TGI, Tabby APIs) to the app tab that has a model loaded.

Options:
${LISTEN_HELP}  --app-dir DIR   serve this built app instead of dist/
  --no-build      do not rebuild the app when its sources changed
  -h, --help      show this help

It prints the app's link with a secret (http://127.0.0.1:8008/?token=…): open that link;
the secret keeps other programs and web pages from taking over the app's connection.
\`homecoder url\` prints it again.

The app hosted elsewhere (a static site) pairs with a bridge started by
\`npm run -s homecoder -- bridge --app URL\` instead; pairings it made are honoured here too.

The bridge also proxies git fetches for the app's clones (/git-proxy/, upload-pack only,
public hosts only); HOMECODER_GIT_PROXY_MAX_MB caps one response (default 1024).
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
    // Apps on other origins paired by `homecoder bridge` are let in here too, until revoked.
    bridge = await startBridge({ ...listen, appDir, version, pairings: new Pairings() });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof BridgeError) console.error(err.message);
    else if (e.code === 'EADDRINUSE')
      console.error(`Port ${port} on ${host} is in use: is Homecoder already running? Use --port to pick another.`);
    else console.error(`Could not listen on ${host}:${port}: ${e.message}`);
    return 1;
  }
  const warning = exposureWarning(host);
  if (warning) console.warn(warning);
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
