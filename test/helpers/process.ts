// A server under test as its own Node process on a free port: started, its URL read from
// its "running at http://…" line (the app's link with the tab's secret, as a user sees it),
// its output kept, and stopped with SIGTERM.
import { spawn } from 'node:child_process';

export interface RunningServer {
  /** The printed link: the app's address with `?token=SECRET` (open it as a user does). */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The tab's cookie (`name=value`) the printed link sets: for requests made outside a browser. */
  cookie: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** The cookie that opening the printed link `url` sets (src/bridge/access.ts). */
export function tabCookieFor(url: string): string {
  const u = new URL(url);
  return `homecoder-tab-${u.port}=${u.searchParams.get('token') ?? ''}`;
}

export async function startServerProcess(
  what: string,
  args: string[],
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<RunningServer> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), timeoutMs);
    child.stdout.on('data', () => {
      const m = /running at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}):\n${out}`)));
  });
  return {
    url,
    origin: new URL(url).origin,
    cookie: tabCookieFor(url),
    pid: child.pid!,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
