// Stage 1 for commits of the history, and the plain commit format they are trained in.
// A commit keeps the diffs of the files stage 1 would train on; the diffs of lock files,
// generated, vendored and binary files are left out of it, and a commit left with nothing
// is rejected for that. Bot authors and huge diffs are rejected; duplicates in stage1.ts.
import type { CommitChange, CommitExample } from '../types.ts';
import { BINARY_EXTENSIONS, GENERATED_FILENAMES, GENERATED_SUFFIXES, VENDORED_DIRS, VENDORED_FILE } from './rules.ts';

/** Bot accounts by author name or e-mail (GitHub apps end in "[bot]"). */
export const BOT_AUTHOR =
  /\[bot\]|^(dependabot|renovate|greenkeeper|snyk-bot|pre-commit-ci|mergify|semantic-release-bot|github-actions|imgbot|allcontributors|codecov|deepsource-autofix|pyup-bot|depfu|whitesource)\b|\bbot@|-bot@|\bnoreply@renovate/i;

export interface CommitVerdict {
  reason: 'bot_author' | 'generated' | 'vendored' | 'not_text' | 'too_large' | 'not_code';
  detail: string;
}

/** Why one changed file's diff is left out of a commit, or null to keep it. */
export function changeLeftOut(c: CommitChange): { reason: 'generated' | 'vendored' | 'not_text'; why: string } | null {
  const base = c.path.slice(c.path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot).toLowerCase() : '';
  if (GENERATED_FILENAMES.has(base)) return { reason: 'generated', why: 'a lock file' };
  const suffix = GENERATED_SUFFIXES.find(([sfx]) => base.endsWith(sfx));
  if (suffix) return { reason: 'generated', why: `made by ${suffix[1]}` };
  const dir = c.path
    .split('/')
    .slice(0, -1)
    .find((seg) => VENDORED_DIRS.has(seg));
  if (dir) return { reason: 'vendored', why: `inside "${dir}/"` };
  if (VENDORED_FILE.test(c.path)) return { reason: 'vendored', why: 'a vendored file' };
  if (BINARY_EXTENSIONS.has(ext) || c.skipped === 'binary') return { reason: 'not_text', why: 'binary' };
  return null;
}

/** The changes a commit is trained with. */
export const keptChanges = (c: CommitExample): CommitChange[] => c.changes.filter((x) => x.patch !== null && !changeLeftOut(x));

/**
 * The plain commit format (for model families without commit tokens, Qwen2.5-Coder among
 * them): the message, a blank line, then each kept file's unified diff as `git diff` prints it.
 *
 *     Fix the parser on empty input
 *
 *     diff --git a/src/parse.py b/src/parse.py
 *     --- a/src/parse.py
 *     +++ b/src/parse.py
 *     @@ -1,3 +1,4 @@
 */
export function commitText(c: CommitExample): string {
  const diffs = keptChanges(c).map((x) => `diff --git a/${x.path} b/${x.path}\n${x.patch}`);
  return `${c.message.trim()}\n\n${diffs.join('')}`;
}

/** The diff part alone (what two commits must share to be duplicates: a cherry-pick, a re-applied revert). */
export const commitDiffText = (c: CommitExample): string =>
  keptChanges(c)
    .map((x) => x.patch)
    .join('');

export const commitTitle = (c: CommitExample): string => c.message.split('\n')[0].trim();

/** Stage 1's rules for one commit (secrets and the size limit are checked on its text in stage1.ts). */
export function commitVerdict(c: CommitExample): CommitVerdict | null {
  const who = `${c.author.name} <${c.author.email}>`;
  if (BOT_AUTHOR.test(c.author.name) || BOT_AUTHOR.test(c.author.email)) return { reason: 'bot_author', detail: `written by ${who}` };
  if (!c.changes.length) return { reason: 'not_code', detail: 'changes no file' };
  // A huge change makes the whole commit a poor example: its message speaks of that change too.
  const huge = c.changes.find((x) => x.skipped === 'too_large' && !changeLeftOut(x));
  if (huge)
    return { reason: 'too_large', detail: `the diff of ${huge.path} is too large (a side over 512 KiB or over 20,000 changed lines)` };
  if (keptChanges(c).length) return null;
  // Nothing left to train on: the reason of the first change left out says why.
  const first = changeLeftOut(c.changes[0]) ?? { reason: 'not_text' as const, why: 'not diffed' };
  const list = c.changes
    .slice(0, 3)
    .map((x) => `${x.path} (${changeLeftOut(x)?.why ?? 'not diffed'})`)
    .join(', ');
  return { reason: first.reason, detail: `changes only ${list}${c.changes.length > 3 ? ` and ${c.changes.length - 3} more` : ''}` };
}

/** For an accepted commit: which files' diffs it was stripped of, for the decision's detail. */
export function leftOutNote(c: CommitExample): string {
  const out = c.changes.filter((x) => x.patch === null || changeLeftOut(x));
  if (!out.length) return '';
  const list = out
    .slice(0, 3)
    .map((x) => `${x.path} (${changeLeftOut(x)?.why ?? 'not diffed'})`)
    .join(', ');
  return `left out ${list}${out.length > 3 ? ` and ${out.length - 3} more` : ''}`;
}
