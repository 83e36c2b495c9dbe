// Git repository URLs, and how they travel through the bridge's git proxy:
// https://host/owner/repo.git  →  <app origin>/git-proxy/https/host/owner/repo.git
// (the scheme stays explicit, so the bridge never guesses it, and only http(s) exist).
import { SourceError } from '../errors.ts';

export const GIT_PROXY_PREFIX = '/git-proxy/';

/** Checks a repository URL the user typed; returns it normalised (no trailing slash, no credentials). */
export function parseRepoUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new SourceError(
      'GIT_URL_INVALID',
      `"${input}" is not a URL: give the repository's https address, e.g. https://github.com/owner/repo.git.`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SourceError(
      'GIT_URL_INVALID',
      `"${input}" uses ${url.protocol.replace(':', '')}: only https (and http) repositories can be cloned in the browser; ssh is not possible there.`,
    );
  }
  if (url.username || url.password) {
    throw new SourceError('GIT_URL_INVALID', 'Put the token in the token field, not in the URL (URLs are shown and stored in plain view).');
  }
  url.hash = '';
  url.search = '';
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** The same-origin proxy URL isomorphic-git fetches from in the browser. */
export function proxiedRepoUrl(origin: string, repo: URL): string {
  return `${origin.replace(/\/$/, '')}${GIT_PROXY_PREFIX}${repo.protocol.replace(':', '')}/${repo.host}${repo.pathname}`;
}

/**
 * How the tab reaches git hosts (browsers cannot fetch them directly: no CORS): through a
 * bridge's proxy (its own origin, or a paired bridge with the tab's secret in `headers`), or
 * through a CORS proxy whose URL the user set (isomorphic-git's convention: PROXY/host/path);
 * never a third-party proxy the user did not choose.
 */
export type GitRoute =
  | { kind: 'bridge'; origin: string; headers?: Record<string, string> }
  | { kind: 'cors-proxy'; url: string }
  | { kind: 'none' };

/** The URL isomorphic-git fetches `repo` from on `route`; with no route, a typed error that says how to get one. */
export function routedRepoUrl(route: GitRoute, repo: URL): string {
  if (route.kind === 'bridge') return proxiedRepoUrl(route.origin, repo);
  if (route.kind === 'cors-proxy') return `${route.url.replace(/\/+$/, '')}/${repo.host}${repo.pathname}`;
  throw new SourceError(
    'GIT_NEEDS_BRIDGE',
    `A browser cannot clone ${repo.href} by itself (git hosts send no CORS headers). Start the bridge and pair it with this page (the Use page says how), or set a CORS proxy URL you trust on this page; or add the repository as an archive.`,
  );
}

export interface ProxyTarget {
  /** The upstream URL to request, with the query the client sent (only service=git-upload-pack). */
  url: string;
  kind: 'refs' | 'upload-pack';
}

/**
 * What the bridge may forward for a request path: only the two upload-pack endpoints of git
 * smart HTTP, on http(s). Anything else is null (the bridge answers 403).
 */
export function proxyTarget(method: string, pathAndQuery: string): ProxyTarget | null {
  if (!pathAndQuery.startsWith(GIT_PROXY_PREFIX)) return null;
  const [rawPath, query = ''] = pathAndQuery.slice(GIT_PROXY_PREFIX.length).split('?', 2);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  const m = /^(https?)\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?(\/[^?#\\]*)$/.exec(path);
  if (!m) return null;
  const [, scheme, host, port = '', repoAndEndpoint] = m;
  if (repoAndEndpoint.split('/').some((seg) => seg === '..' || seg === '.')) return null;
  let kind: ProxyTarget['kind'];
  let repoPath: string;
  if (method === 'GET' && repoAndEndpoint.endsWith('/info/refs') && query === 'service=git-upload-pack') {
    kind = 'refs';
    repoPath = repoAndEndpoint.slice(0, -'/info/refs'.length);
  } else if (method === 'POST' && repoAndEndpoint.endsWith('/git-upload-pack') && query === '') {
    kind = 'upload-pack';
    repoPath = repoAndEndpoint.slice(0, -'/git-upload-pack'.length);
  } else return null;
  if (!repoPath || repoPath === '/') return null;
  const url = `${scheme}://${host}${port}${repoPath}/${kind === 'refs' ? 'info/refs?service=git-upload-pack' : 'git-upload-pack'}`;
  return { url, kind };
}
