// `homecoder url`: prints the app's link with its secret, for a bridge already running
// (`npm start` or `homecoder serve`), read from the bridge's runtime file (src/bridge/runtime-file.ts).
import { parseArgs } from 'node:util';
import { BridgeError } from '../../bridge/errors.ts';
import { readRuntimeFiles, runtimeDir } from '../../bridge/runtime-file.ts';

export const urlHelp = `Usage: homecoder url [--port PORT]

Prints the link to open the app of the running bridge, with the secret that lets the app in
(the same link \`npm start\` printed; for \`homecoder bridge\`, its one-time pairing link).
With several bridges running, one line each; --port picks one. Only the user who started
the bridge can read it.
`;

export async function urlCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(urlHelp);
    return 0;
  }
  const running = readRuntimeFiles().filter((r) => values.port === undefined || String(r.port) === values.port);
  if (running.length === 0)
    throw new BridgeError(
      'BRIDGE_NO_RUNTIME_FILE',
      `No Homecoder bridge${values.port ? ` on port ${values.port}` : ''} is running for this user (nothing in ${runtimeDir()}): start one with \`npm start\`.`,
    );
  for (const r of running) process.stdout.write(`${r.url}\n`);
  return 0;
}
