// A real git smart-HTTP server on loopback: `git http-backend` (CGI) behind node:http,
// serving bare repositories built by the test from a tree of files.
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface GitServer {
  url: string;
  root: string;
  /** Requests seen: method and path (with query). */
  log: Array<{ method: string; url: string; auth: boolean }>;
  /** Builds (or adds a commit to) repo `name`.git from `files`; returns the commit id. */
  commit(name: string, files: Map<string, Uint8Array>, message?: string): string;
  /** Tags HEAD of repo `name`. */
  tag(name: string, tag: string): void;
  /** Requires HTTP Basic auth with this password for repo paths starting with `prefix`. */
  requireToken(prefix: string, token: string): void;
  close(): Promise<void>;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' },
  }).trim();

export async function startGitServer(): Promise<GitServer> {
  const root = mkdtempSync(join(tmpdir(), 'hc-git-'));
  const work = join(root, 'work');
  const repos = join(root, 'repos');
  mkdirSync(work);
  mkdirSync(repos);
  const log: GitServer['log'] = [];
  const tokens: Array<[string, string]> = [];

  const server: Server = createServer((req, res) => {
    const [path, query = ''] = (req.url ?? '/').split('?');
    const auth = req.headers.authorization;
    log.push({ method: req.method ?? '', url: req.url ?? '', auth: !!auth });
    const needed = tokens.find(([prefix]) => path.startsWith(prefix));
    if (needed) {
      const given = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':').slice(1).join(':') : '';
      if (given !== needed[1]) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
        res.end('auth required');
        return;
      }
    }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: repos,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(path),
        QUERY_STRING: query,
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
    cgi.stderr.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    root,
    log,
    commit(name, files, message = 'update') {
      const dir = join(work, name);
      const bare = join(repos, `${name}.git`);
      try {
        mkdirSync(dir);
        git(dir, 'init', '-q', '-b', 'main');
      } catch {
        // exists: a later commit
      }
      execFileSync('sh', ['-c', 'git rm -rq --cached . >/dev/null 2>&1; find . -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +'], {
        cwd: dir,
      });
      for (const [p, b] of files) {
        mkdirSync(dirname(join(dir, p)), { recursive: true });
        writeFileSync(join(dir, p), b);
      }
      git(dir, 'add', '-A', '-f'); // -f: files the tree's own .gitignore names are committed too
      git(dir, 'commit', '-q', '--allow-empty', '-m', message);
      if (!existsSync(bare)) git(repos, 'clone', '-q', '--bare', dir, bare);
      else git(dir, 'push', '-q', '--force', bare, 'main');
      git(bare, 'update-server-info');
      return git(dir, 'rev-parse', 'HEAD');
    },
    tag(name, tag) {
      const dir = join(work, name);
      git(dir, 'tag', tag);
      git(dir, 'push', '-q', join(repos, `${name}.git`), tag);
    },
    requireToken(prefix, token) {
      tokens.push([prefix, token]);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(root, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
