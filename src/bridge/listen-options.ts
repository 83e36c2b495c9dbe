// Where and how the bridge listens, from the command line and the environment: one parser
// for `npm start` (src/bridge/main.ts) and `homecoder serve`, so both accept the same
// values and refuse a bad one the same way (a usage error: message, exit code 2).
import { isLoopbackAddress } from './hosts.ts';

/** parseArgs specs of the listen options, shared by both commands. */
export const LISTEN_ARGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  'max-body': { type: 'string' },
} as const;

export interface ListenOptions {
  host: string;
  port: number;
  apiKey?: string;
  /** Largest editor request body in bytes (undefined: the editor API's default). */
  maxBodyBytes?: number;
}

/** A listen option the bridge cannot use; the commands print it and exit with code 2. */
export class ListenOptionError extends Error {
  readonly code = 'BAD_LISTEN_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'ListenOptionError';
  }
}

export function parseListenOptions(
  values: { host?: string; port?: string; 'api-key'?: string; 'max-body'?: string },
  env: Record<string, string | undefined> = process.env,
): ListenOptions {
  const host = values.host ?? env.HOMECODER_HOST ?? '127.0.0.1';
  const portText = values.port ?? env.HOMECODER_PORT ?? '8008';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ListenOptionError(`Invalid port "${portText}": give a number from 0 to 65535.`);
  const maxBodyBytes = values['max-body'] ? Number(values['max-body']) : undefined;
  if (maxBodyBytes !== undefined && !(maxBodyBytes > 0))
    throw new ListenOptionError(`--max-body must be a positive number of bytes, not "${values['max-body']}".`);
  return { host, port, apiKey: values['api-key'] ?? env.HOMECODER_API_KEY, maxBodyBytes };
}

/** The options, or undefined after `report` was given what is wrong (the command then exits with code 2). */
export function readListenOptions(
  values: Parameters<typeof parseListenOptions>[0],
  report: (message: string) => void,
): ListenOptions | undefined {
  try {
    return parseListenOptions(values);
  } catch (err) {
    if (!(err instanceof ListenOptionError)) throw err;
    report(err.message);
    return undefined;
  }
}

/** What to warn about where the bridge listens on more than loopback (undefined: nothing). */
export function exposureWarning(host: string): string | undefined {
  return isLoopbackAddress(host) ? undefined : `Warning: listening on ${host}, not loopback: other machines can reach this bridge.`;
}
