// Pairing the bridge with an app tab from another origin (the static site, e.g. GitHub
// Pages): `homecoder bridge --app URL` offers a one-time code for that URL's origin, printed
// in the link's fragment (never sent to the static host). The tab trades the code for a
// long-lived secret (POST /bridge/pair, from that very origin); from then on it shows the
// secret on every request (the `x-homecoder-tab` header, or a WebSocket subprotocol) and the
// bridge lets in that origin with that secret only. Pairings are kept (origin and a SHA-256
// of the secret, never the secret) in a 0600 file in a 0700 per-user folder until the tab
// revokes its own. A page of any other origin, or without the secret, gets nothing.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { sameSecret } from './access.ts';
import { BridgeError } from './errors.ts';

export { PAIR_HEADER, SECRET_PROTOCOL_PREFIX, TAB_PROTOCOL } from '../serve/tab-protocol.ts';

export interface PairingRecord {
  origin: string;
  /** The app's address as given to `homecoder bridge --app` (printed again on the next start). */
  appUrl: string;
  secretSha256: string;
  pairedAt: string;
}

/** $HOMECODER_CONFIG_DIR, else $XDG_CONFIG_HOME/homecoder, else ~/.config/homecoder. */
export function configDir(): string {
  if (process.env.HOMECODER_CONFIG_DIR) return process.env.HOMECODER_CONFIG_DIR;
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'homecoder');
}

export function pairingsFile(): string {
  return join(configDir(), 'pairings.json');
}

/** The origin of an app URL the user gave; http(s) only. */
export function appOrigin(appUrl: string): string {
  let u: URL;
  try {
    u = new URL(appUrl);
  } catch {
    throw new BridgeError(
      'BRIDGE_NEEDS_APP_URL',
      `"${appUrl}" is not a URL: give the app's address, e.g. --app https://you.github.io/homecoder/.`,
    );
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new BridgeError('BRIDGE_NEEDS_APP_URL', `The app's address must be http(s), not ${u.protocol} (${appUrl}).`);
  return u.origin;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function readRecords(file: string | undefined): PairingRecord[] {
  if (!file) return [];
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { pairings?: unknown };
    if (!Array.isArray(data.pairings)) return [];
    return data.pairings.filter(
      (r): r is PairingRecord =>
        !!r &&
        typeof r.origin === 'string' &&
        typeof r.appUrl === 'string' &&
        typeof r.secretSha256 === 'string' &&
        /^[0-9a-f]{64}$/.test(r.secretSha256),
    );
  } catch {
    return []; // none yet, or unreadable: nothing is paired
  }
}

export class Pairings {
  private records: PairingRecord[];
  private offered?: { code: string; origin: string; appUrl: string };

  /** `file` undefined: kept in memory only. */
  constructor(private file: string | undefined = pairingsFile()) {
    this.records = readRecords(file);
  }

  list(): readonly PairingRecord[] {
    return this.records;
  }

  /** A new one-time code for the app at `appUrl` (replaces an unused earlier one). */
  offer(appUrl: string): string {
    const code = randomBytes(24).toString('base64url');
    this.offered = { code, origin: appOrigin(appUrl), appUrl };
    return code;
  }

  /** The link to print: the app's URL with the code and this bridge in its fragment. */
  pairLink(bridgeOrigin: string): string | undefined {
    if (!this.offered) return undefined;
    const u = new URL(this.offered.appUrl);
    u.hash = `pair=${this.offered.code}&bridge=${encodeURIComponent(bridgeOrigin)}`;
    return u.href;
  }

  /** Whether `origin` may send a CORS preflight that gets an answer: paired, or offered a code. */
  knows(origin: string): boolean {
    return this.offered?.origin === origin || this.records.some((r) => r.origin === origin);
  }

  /**
   * Trades the one-time code for a new secret, from the offered origin only; the code is
   * spent either way once the origin matches (a wrong guess does not leave it open).
   */
  claim(origin: string, code: string): string | undefined {
    const offered = this.offered;
    if (!offered || offered.origin !== origin) return undefined;
    this.offered = undefined;
    if (!sameSecret(code, offered.code)) return undefined;
    const secret = randomBytes(32).toString('base64url');
    this.records = [
      ...this.records.filter((r) => r.origin !== origin),
      { origin, appUrl: offered.appUrl, secretSha256: sha256(secret), pairedAt: new Date().toISOString() },
    ];
    this.save();
    return secret;
  }

  /** Whether `secret` is the one `origin` was paired with (constant-time on the hashes). */
  check(origin: string | undefined, secret: string | undefined): boolean {
    if (!origin || !secret) return false;
    const r = this.records.find((r) => r.origin === origin);
    return !!r && sameSecret(sha256(secret), r.secretSha256);
  }

  /** Forgets the pairing of `origin`, when `secret` proves it is that tab asking. */
  revoke(origin: string, secret: string): boolean {
    if (!this.check(origin, secret)) return false;
    this.records = this.records.filter((r) => r.origin !== origin);
    this.save();
    return true;
  }

  private save(): void {
    if (!this.file) return;
    const dir = join(this.file, '..');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileSync(this.file, `${JSON.stringify({ pairings: this.records }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(this.file, 0o600);
  }
}
