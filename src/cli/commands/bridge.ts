// `homecoder bridge`: the bridge as a companion to the app opened from another origin (the
// static site): editors' completions relayed to that tab, and the git proxy for its clones.
// It pairs with the app at --app URL through a one-time code in the printed link's fragment;
// the pairing is remembered (src/bridge/pairing.ts) until the app revokes it on its Use page.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { appDirOrNote, PACKAGE_ROOT, packageVersion } from '../../bridge/build.ts';
import { BridgeError } from '../../bridge/errors.ts';
import { exposureWarning, LISTEN_ARGS, LISTEN_HELP, readListenOptions } from '../../bridge/listen-options.ts';
import { appOrigin, Pairings, pairingsFile } from '../../bridge/pairing.ts';
import { writeRuntimeFile } from '../../bridge/runtime-file.ts';
import { startBridge } from '../../bridge/server.ts';

export const bridgeHelp = `Usage: homecoder bridge --app URL [options]
       npm run -s homecoder -- bridge --app URL

Starts the bridge for the Homecoder app opened from another address (a static host such as
GitHub Pages): it relays editors' completions to that app's tab and proxies its git clones.
It prints a link to the app with a one-time pairing code; open it once in Chrome and the app
and the bridge remember each other (until you revoke it on the app's Use page).

Options:
  --app URL       the app's address, e.g. https://you.github.io/homecoder/
                  (env HOMECODER_APP_URL; default: the app paired last)
${LISTEN_HELP}  -h, --help      show this help

Only that app's origin, with the secret it got when pairing, may use the bridge's tab socket,
status and git proxy; pairings are kept in ${pairingsFile()} (mode 0600).
\`npm start\` still serves the app itself from the bridge.
`;

function stopSignal(): Promise<void> {
  return new Promise((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
}

export async function bridgeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...LISTEN_ARGS, app: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(bridgeHelp);
    return 0;
  }
  const listen = readListenOptions(values, (m) => process.stderr.write(`homecoder bridge: ${m}\n`));
  if (!listen) return 2;
  const pairings = new Pairings();
  const appUrl = values.app ?? process.env.HOMECODER_APP_URL ?? pairings.list().at(-1)?.appUrl;
  if (!appUrl)
    throw new BridgeError(
      'BRIDGE_NEEDS_APP_URL',
      "Give the app's address: homecoder bridge --app https://you.github.io/homecoder/ (or set HOMECODER_APP_URL). To use the app the bridge serves itself, run `npm start` instead.",
    );
  const origin = appOrigin(appUrl);
  pairings.offer(appUrl);
  const dist = join(PACKAGE_ROOT, 'dist');
  const bridge = await startBridge({
    ...listen,
    appDir: existsSync(join(dist, 'index.html')) ? dist : appDirOrNote(dist, () => {}),
    version: packageVersion(),
    pairings,
  });
  const warning = exposureWarning(listen.host);
  if (warning) console.warn(warning);
  const bridgeOrigin = new URL(bridge.url).origin;
  const link = pairings.pairLink(bridgeOrigin)!;
  const removeRuntimeFile = writeRuntimeFile({
    url: link,
    pid: process.pid,
    port: Number(new URL(bridge.url).port),
    host: listen.host,
    kind: 'bridge',
  });
  console.log(`Homecoder bridge is running at ${bridge.url} (editors connect here).`);
  if (pairings.list().some((p) => p.origin === origin))
    console.log(`Paired with ${origin} already: open the app there and it connects by itself.`);
  console.log(`To pair the app at ${origin} with this bridge, open this link once in Chrome (the code in it works once):`);
  console.log(`  ${link}`);
  await stopSignal();
  await bridge.close();
  removeRuntimeFile();
  return 0;
}
