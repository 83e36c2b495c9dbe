// Git sources with isomorphic-git: a shallow clone (depth 1 unless asked for more) of one
// branch or tag, fetched again to refresh; files are read from the commit's tree (no
// checkout needed). The same code runs in the browser (lightning-fs in IndexedDB, fetch
// through the bridge's proxy) and in Node (the disk, direct HTTP).
import './buffer-global.ts';
import git, { type GitHttpRequest, type GitHttpResponse, type HttpClient, type PromiseFsClient } from 'isomorphic-git';
import { abortError, type ProgressListener } from '../../progress.ts';
import { SourceError } from '../errors.ts';
import type { SourceFile } from '../types.ts';

export interface GitFetchOptions {
  fs: PromiseFsClient;
  http: HttpClient;
  dir: string;
  /** The URL isomorphic-git requests (in the browser: the proxied one). */
  url: string;
  /** For messages: the URL as the user gave it. */
  shownUrl: string;
  ref?: string;
  depth?: number;
  token?: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

/** Largest pack a clone or pull may download (isomorphic-git keeps the pack in memory). */
export const DEFAULT_MAX_PACK_BYTES = 2 ** 30;

/**
 * fetch-based client for isomorphic-git that honours an AbortSignal (the stock one has none)
 * and stops a response past `maxBytes` (a pack that would not fit in memory) with a typed error.
 */
export function fetchHttpClient(
  signal?: AbortSignal,
  maxBytes = DEFAULT_MAX_PACK_BYTES,
  /** Sent with every request (a paired bridge's secret). */
  extraHeaders: Record<string, string> = {},
): HttpClient {
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      signal?.throwIfAborted();
      let body: Uint8Array | undefined;
      if (req.body) {
        const parts: Uint8Array[] = [];
        for await (const p of req.body as AsyncIterable<Uint8Array>) parts.push(p);
        body = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
        let o = 0;
        for (const p of parts) {
          body.set(p, o);
          o += p.length;
        }
      }
      const headers = { ...req.headers, ...extraHeaders };
      delete headers['user-agent']; // browsers refuse to set it
      const res = await fetch(req.url, { method: req.method ?? 'GET', headers, body: body as BodyInit | undefined, signal });
      const reader = res.body?.getReader();
      const declared = Number(res.headers.get('content-length') ?? 0);
      let received = 0;
      const tooLarge = () =>
        new SourceError(
          'GIT_PACK_TOO_LARGE',
          `${req.url.replace(/\/(?:info\/refs|git-upload-pack).*$/, '')} sends more than ${(maxBytes / 2 ** 20).toFixed(0)} MiB: the repository is too large to clone here. Clone a smaller repository or branch (depth 1), or raise the limit (HOMECODER_GIT_MAX_MB for the CLI).`,
        );
      if (declared > maxBytes) {
        await reader?.cancel();
        throw tooLarge();
      }
      const iter: AsyncIterableIterator<Uint8Array> = {
        async next() {
          if (!reader) return { done: true, value: undefined };
          const r = await reader.read();
          if (r.done) return { done: true, value: undefined };
          received += r.value.length;
          if (received > maxBytes) {
            await reader.cancel();
            throw tooLarge();
          }
          return { done: false, value: r.value };
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      return {
        url: res.url,
        method: req.method,
        statusCode: res.status,
        statusMessage: res.statusText,
        body: iter,
        headers: Object.fromEntries(res.headers.entries()),
      };
    },
  };
}

function auth(o: GitFetchOptions) {
  return {
    onAuth: () => (o.token ? { username: 'x-access-token', password: o.token } : { cancel: true }),
    onAuthFailure: () => ({ cancel: true }),
  };
}

function progress(o: GitFetchOptions) {
  // Not awaited: isomorphic-git would wait for each report to cross to the page and back.
  // (Throwing here to cancel would surface as an unhandled rejection inside isomorphic-git:
  // cancellation aborts the HTTP fetch and is checked again once the fetch returns.)
  return (e: { phase: string; loaded: number; total?: number }) => {
    o.onProgress?.({ phase: e.phase.toLowerCase(), done: e.loaded, total: e.total ?? 0, detail: o.shownUrl });
  };
}

/** Turns isomorphic-git's errors into SourceErrors that say what to do. */
function gitError(o: GitFetchOptions, err: unknown): Error {
  if (o.signal?.aborted) return abortError(o.signal.reason);
  const e = err as { code?: string; message?: string; data?: { statusCode?: number; response?: string } };
  if ((err as Error)?.name === 'AbortError') return err as Error;
  const status = e.data?.statusCode;
  const detail = e.data?.response ? `: ${String(e.data.response).slice(0, 200)}` : '';
  if (e.code === 'UserCanceledError' || status === 401 || status === 403) {
    return new SourceError(
      'GIT_AUTH',
      o.token
        ? `${o.shownUrl} refused the token. Check that it is valid and can read this repository.`
        : `${o.shownUrl} needs a token: it is private (or does not exist). Add a personal access token with read access.`,
      {
        cause: err,
        data: { url: o.shownUrl, tokenGiven: !!o.token },
        hint: 'Create the token on the git host (read access to repository contents is enough) and give it with this source.',
      },
    );
  }
  if (status === 404 || e.code === 'NotFoundError')
    return new SourceError(
      'GIT_NOT_FOUND',
      `${o.shownUrl}${o.ref ? ` at "${o.ref}"` : ''} was not found. Check the URL${o.ref ? ' and the branch or tag' : ''}.`,
      { cause: err },
    );
  if (status === 413 || status === 502)
    return new SourceError('GIT_FAILED', `Cloning ${o.shownUrl} failed${detail || ` (HTTP ${status})`}.`, { cause: err });
  return new SourceError('GIT_FAILED', `Cloning ${o.shownUrl} failed: ${e.message ?? String(err)}${status ? ` (HTTP ${status})` : ''}.`, {
    cause: err,
  });
}

/**
 * Clones one branch or tag (shallow by default) without a checkout: init + fetch, which,
 * unlike isomorphic-git's clone, also takes a tag. Returns the commit.
 */
export async function gitClone(o: GitFetchOptions): Promise<string> {
  await git.init({ fs: o.fs, dir: o.dir });
  await git.addRemote({ fs: o.fs, dir: o.dir, remote: 'origin', url: o.url, force: true });
  return gitFetchLatest(o);
}

/** Fetches the branch or tag again; returns the commit it now points to. */
export async function gitFetchLatest(o: GitFetchOptions): Promise<string> {
  try {
    const r = await git.fetch({
      fs: o.fs,
      http: o.http,
      dir: o.dir,
      remote: 'origin',
      url: o.url,
      ref: o.ref || undefined,
      singleBranch: true,
      depth: o.depth ?? 1,
      tags: false,
      onProgress: progress(o),
      ...auth(o),
    });
    o.signal?.throwIfAborted();
    if (!r.fetchHead) throw new SourceError('GIT_NOT_FOUND', `${o.shownUrl} has no branch or tag "${o.ref ?? 'HEAD'}".`);
    return r.fetchHead;
  } catch (err) {
    if (err instanceof SourceError) throw err;
    // isomorphic-git may wrap what the HTTP client threw: keep the typed error.
    const inner = (err as { caller?: unknown; data?: unknown; cause?: unknown })?.cause;
    throw inner instanceof SourceError ? inner : gitError(o, err);
  }
}

/** The files of a commit, read from its tree; links and submodules are left out. */
export async function readCommitFiles(
  fs: PromiseFsClient,
  dir: string,
  commit: string,
  opts: { signal?: AbortSignal; onProgress?: ProgressListener } = {},
): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  await git.walk({
    fs,
    dir,
    trees: [git.TREE({ ref: commit })],
    map: async (path, entries) => {
      opts.signal?.throwIfAborted();
      const e = entries?.[0];
      if (!e || path === '.') return true;
      const type = await e.type();
      if (type === 'tree') return true;
      if (type !== 'blob' || (await e.mode()) === 0o120000) return null;
      const bytes = await e.content();
      if (bytes) files.push({ path, bytes });
      if (files.length % 200 === 0) opts.onProgress?.({ phase: 'reading files', done: files.length, total: 0, detail: path });
      return true;
    },
  });
  return files;
}
