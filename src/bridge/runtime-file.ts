// Where a running bridge leaves its URL with the secret, for `homecoder url`: one file per
// bridge in a per-user folder (mode 0700; the file 0600, so other users of the machine cannot
// read the secret), removed when the bridge exits.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface RuntimeInfo {
  /** The app's URL with the secret. */
  url: string;
  pid: number;
  port: number;
  host: string;
  kind: 'start' | 'serve' | 'bridge';
}

/** $HOMECODER_RUNTIME_DIR, else $XDG_RUNTIME_DIR/homecoder, else ~/.homecoder/run. */
export function runtimeDir(): string {
  if (process.env.HOMECODER_RUNTIME_DIR) return process.env.HOMECODER_RUNTIME_DIR;
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, 'homecoder');
  return join(homedir(), '.homecoder', 'run');
}

/** Writes the file and arranges its removal on exit; returns a function that removes it now. */
export function writeRuntimeFile(info: RuntimeInfo): () => void {
  const dir = runtimeDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = join(dir, `bridge-${info.port}.json`);
  writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
  chmodSync(file, 0o600); // an older file of the same name keeps its mode otherwise
  const remove = () => rmSync(file, { force: true });
  process.once('exit', remove);
  return remove;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The bridges running now (stale files of bridges that died are skipped). */
export function readRuntimeFiles(): RuntimeInfo[] {
  let names: string[];
  try {
    names = readdirSync(runtimeDir());
  } catch {
    return [];
  }
  const out: RuntimeInfo[] = [];
  for (const n of names.filter((n) => /^bridge-\d+\.json$/.test(n)).sort()) {
    try {
      const info = JSON.parse(readFileSync(join(runtimeDir(), n), 'utf8')) as RuntimeInfo;
      if (typeof info.url === 'string' && Number.isInteger(info.pid) && alive(info.pid)) out.push(info);
    } catch {
      // unreadable or half-written: not a running bridge
    }
  }
  return out;
}
