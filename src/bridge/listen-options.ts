// Where and how the bridge listens, from the command line and the environment: one parser
// for `npm start` (src/bridge/main.ts) and `homecoder serve`, so both accept the same
// values and refuse a bad one the same way (a usage error: message, exit code 2).
import { BridgeError } from './errors.ts';
import { DEFAULT_GIT_PROXY, type GitProxyOptions } from './git-proxy.ts';
import { isLoopbackAddress } from './hosts.ts';
import { DEFAULT_DEADLINES, type RelayDeadlines } from './relay.ts';

/** parseArgs specs of the listen options, shared by both commands. */
export const LISTEN_ARGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  'max-body': { type: 'string' },
  'first-token-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'git-allow-host': { type: 'string', multiple: true },
  'hub-origin': { type: 'string', multiple: true },
} as const;

/** The help lines of LISTEN_ARGS, the same in both commands. */
export const LISTEN_HELP = `  --host HOST     address to listen on (env HOMECODER_HOST; default 127.0.0.1).
                  Anything but loopback exposes the bridge to your network, and needs --api-key.
  --port PORT     port (env HOMECODER_PORT; default 8008; 0 picks a free one)
  --api-key KEY   editors must send "Authorization: Bearer KEY" (env HOMECODER_API_KEY);
                  every route but the app and /health then needs the key (or the app's cookie)
  --max-body N    largest editor request body in bytes (default 1048576)
  --first-token-timeout S   seconds a request may wait for its first token (default 120)
  --request-timeout S       seconds a request may take in all (default 300); then 504
  --git-allow-host HOST[:PORT]  let the git proxy reach this host although it is on
                  loopback or a private network (repeat; env HOMECODER_GIT_ALLOW_HOSTS)
  --hub-origin URL  another model hub the app may download from (repeat)
`;

export interface ListenOptions {
  host: string;
  port: number;
  apiKey?: string;
  /** Largest editor request body in bytes (undefined: the editor API's default). */
  maxBodyBytes?: number;
  deadlines: RelayDeadlines;
  gitProxy: Pick<GitProxyOptions, 'allowHosts'>;
  /** Origins besides the Hugging Face hub the app may download from (its CSP). */
  hubOrigins: string[];
}

/** A listen option the bridge cannot use; the commands print it and exit with code 2. */
export class ListenOptionError extends BridgeError {
  constructor(message: string) {
    super('BRIDGE_BAD_OPTION', message);
  }
}

interface ListenValues {
  host?: string;
  port?: string;
  'api-key'?: string;
  'max-body'?: string;
  'first-token-timeout'?: string;
  'request-timeout'?: string;
  'git-allow-host'?: string[];
  'hub-origin'?: string[];
}

function seconds(name: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const s = Number(text);
  if (!(s > 0)) throw new ListenOptionError(`--${name} must be a positive number of seconds, not "${text}".`);
  return s * 1000;
}

function origin(text: string): string {
  try {
    return new URL(text).origin; // only an origin goes into the CSP header
  } catch {
    throw new ListenOptionError(`--hub-origin must be a URL such as https://hub.example, not "${text}".`);
  }
}

export function parseListenOptions(values: ListenValues, env: Record<string, string | undefined> = process.env): ListenOptions {
  const host = values.host ?? env.HOMECODER_HOST ?? '127.0.0.1';
  const portText = values.port ?? env.HOMECODER_PORT ?? '8008';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ListenOptionError(`Invalid port "${portText}": give a number from 0 to 65535.`);
  const maxBodyBytes = values['max-body'] ? Number(values['max-body']) : undefined;
  if (maxBodyBytes !== undefined && !(maxBodyBytes > 0))
    throw new ListenOptionError(`--max-body must be a positive number of bytes, not "${values['max-body']}".`);
  return {
    host,
    port,
    apiKey: values['api-key'] ?? env.HOMECODER_API_KEY,
    maxBodyBytes,
    deadlines: {
      firstTokenMs: seconds('first-token-timeout', values['first-token-timeout'], DEFAULT_DEADLINES.firstTokenMs),
      totalMs: seconds('request-timeout', values['request-timeout'], DEFAULT_DEADLINES.totalMs),
    },
    gitProxy: { allowHosts: [...DEFAULT_GIT_PROXY.allowHosts, ...(values['git-allow-host'] ?? [])] },
    hubOrigins: (values['hub-origin'] ?? []).map(origin),
  };
}

/** The options, or undefined after `report` was given what is wrong (the command then exits with code 2). */
export function readListenOptions(values: ListenValues, report: (message: string) => void): ListenOptions | undefined {
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
