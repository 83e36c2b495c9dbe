// A repository with a planted history, built with the real git: commits by people and by a
// bot, lock-file-only, vendored-only, binary-only and huge commits, a merge, and a change
// applied twice. It lives in a working folder (a local repository) and, pushed bare, under a
// GitServer's root so `git http-backend` serves it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface PlantedCommit {
  subject: string;
  /** What stage 1 decides (null: a merge, which is never taken). */
  reason: string | null;
  /** A piece of its decision's detail. */
  detail?: string;
}

export interface HistoryRepo {
  /** The working folder: a local git repository. */
  dir: string;
  /** Commit ids by subject. */
  oid: Record<string, string>;
  /** Newest first, as the history is read. */
  planted: PlantedCommit[];
  /** `git show` of a commit: its diff as git prints it (index lines and hunk headings' function names dropped). */
  gitDiff(oid: string): string;
}

const PEOPLE = {
  GIT_AUTHOR_NAME: 'Ada',
  GIT_AUTHOR_EMAIL: 'ada@example.org',
  GIT_COMMITTER_NAME: 'Ada',
  GIT_COMMITTER_EMAIL: 'ada@example.org',
};
const BOT = {
  GIT_AUTHOR_NAME: 'dependabot[bot]',
  GIT_AUTHOR_EMAIL: '49699333+dependabot[bot]@users.noreply.github.com',
};

export const PARSE_V1 = 'def parse(text):\n    return text.split(",")\n';
export const PARSE_V2 = 'def parse(text):\n    if not text:\n        return []\n    return text.split(",")\n';

export function buildHistoryRepo(root: string, name: string, bareRoot?: string): HistoryRepo {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  let clock = 1_700_000_000;
  const git = (env: Record<string, string>, ...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ...PEOPLE, ...env, GIT_AUTHOR_DATE: `${clock} +0000`, GIT_COMMITTER_DATE: `${clock} +0000` },
    }).trim();
  const write = (files: Record<string, string | Uint8Array>) => {
    for (const [p, b] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), b);
    }
  };
  const oid: Record<string, string> = {};
  const commit = (subject: string, files: Record<string, string | Uint8Array>, env: Record<string, string> = {}) => {
    clock += 60;
    write(files);
    git(env, 'add', '-A');
    git(env, 'commit', '-q', '-m', subject);
    oid[subject] = git({}, 'rev-parse', 'HEAD');
  };
  git({}, 'init', '-q', '-b', 'main');
  commit('Add the parser', {
    'src/parse.py': PARSE_V1,
    'package.json': '{ "name": "demo", "dependencies": { "lodash": "4.17.20" } }\n',
    'package-lock.json': '{ "lockfileVersion": 3, "packages": {} }\n',
  });
  commit('Handle empty input in parse()', { 'src/parse.py': PARSE_V2 });
  commit(
    'Bump lodash from 4.17.20 to 4.17.21',
    {
      'package.json': '{ "name": "demo", "dependencies": { "lodash": "4.17.21" } }\n',
      'package-lock.json': '{ "lockfileVersion": 3, "packages": { "lodash": "4.17.21" } }\n',
    },
    BOT,
  );
  commit('Refresh the lock file', { 'package-lock.json': '{ "lockfileVersion": 3, "packages": { "lodash": "4.17.21", "x": "1" } }\n' });
  commit('Vendor leftpad', { 'vendor/leftpad.js': 'module.exports = (s, n) => s.padStart(n);\n' });
  commit('Add the logo', { 'logo.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 0, 1, 2, 3]) });
  // A data dump: a commit whose diff is far over the 64 KiB limit for one commit.
  commit('Add a data dump', {
    'data/seed.sql': Array.from({ length: 3000 }, (_, i) => `INSERT INTO t VALUES (${i}, 'row ${i}');\n`).join(''),
  });
  commit('Revert empty input handling', { 'src/parse.py': PARSE_V1 });
  // The same change as "Handle empty input in parse()": a duplicate.
  commit('Handle empty input again', { 'src/parse.py': PARSE_V2 });
  // A feature branch merged with a merge commit.
  git({}, 'checkout', '-q', '-b', 'feature');
  commit('Add tokenize()', { 'src/tokenize.py': 'def tokenize(text):\n    return [t.strip() for t in text.split(",")]\n' });
  git({}, 'checkout', '-q', 'main');
  commit('Document parse()', { 'README.md': '# demo\n\nparse() splits a line on commas.\n' });
  clock += 60;
  git({}, 'merge', '-q', '--no-ff', '-m', 'Merge branch feature', 'feature');
  oid['Merge branch feature'] = git({}, 'rev-parse', 'HEAD');
  if (bareRoot) {
    const bare = join(bareRoot, `${name}.git`);
    rmSync(bare, { recursive: true, force: true });
    execFileSync('git', ['clone', '-q', '--bare', dir, bare]);
  }
  return {
    dir,
    oid,
    // Newest first by time, as git log lists them (the merge, then its parents by date).
    planted: [
      { subject: 'Merge branch feature', reason: null },
      { subject: 'Document parse()', reason: 'accepted' },
      { subject: 'Add tokenize()', reason: 'accepted' },
      { subject: 'Handle empty input again', reason: 'accepted' },
      { subject: 'Revert empty input handling', reason: 'accepted' },
      { subject: 'Add a data dump', reason: 'too_large', detail: '> 64 KiB' },
      { subject: 'Add the logo', reason: 'not_text', detail: 'changes only logo.png (binary)' },
      { subject: 'Vendor leftpad', reason: 'vendored', detail: 'changes only vendor/leftpad.js (inside "vendor/")' },
      { subject: 'Refresh the lock file', reason: 'generated', detail: 'changes only package-lock.json (a lock file)' },
      { subject: 'Bump lodash from 4.17.20 to 4.17.21', reason: 'bot_author', detail: 'written by dependabot[bot]' },
      { subject: 'Handle empty input in parse()', reason: 'duplicate', detail: 'same changes as commit:' },
      { subject: 'Add the parser', reason: 'accepted', detail: 'left out package-lock.json (a lock file)' },
    ],
    gitDiff: (id: string) =>
      git({}, 'show', '--format=', '--no-color', '-U3', id)
        .split('\n')
        .filter((l) => !l.startsWith('index '))
        .map((l) => l.replace(/^(@@ [^@]+ @@).*$/, '$1'))
        .join('\n'),
  };
}
